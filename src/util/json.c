/* json.c - writes JSON string literals (escaping, UTF-8 checked) for every JSON the project prints. */
#include "util/json.h"

#include "hyperlight/toml.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t want = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (want == 0 || want > n || !hl_toml_utf8_valid((const char *)p, want, NULL))
        return 0;
    return want;
}

void hl_json_write_string(FILE *out, const char *s, size_t len)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n = 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (c < 0x20 || c == 0x7F) {
                fprintf(out, "\\u%04x", c);
            } else if (c < 0x80) {
                fputc(c, out);
            } else if ((n = utf8_len(p + i, len - i)) != 0) {
                fwrite(p + i, 1, n, out);
            } else {
                fputs("\\ufffd", out);
                n = 1;
            }
        }
        i += n;
    }
    fputc('"', out);
}
