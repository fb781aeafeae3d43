/* printf.c - a small vsnprintf for guests: %d %i %u %x %X %o %p %s %c %f %% with flags, width, precision. */
#include "hyperlight_guest.h"

typedef struct out {
    char *buf;
    size_t size, n; /* n counts every character, written or not */
} out;

static void put(out *o, char c)
{
    if (o->n + 1 < o->size)
        o->buf[o->n] = c;
    o->n++;
}

static void pad(out *o, char c, int count)
{
    while (count-- > 0)
        put(o, c);
}

/* Writes digits of v in base, with sign/prefix, width and precision handling. */
static void number(out *o, uint64_t v, bool neg, unsigned base, bool upper, int width, int prec,
                   bool left, bool zero, char sign_char, const char *prefix)
{
    char tmp[32];
    int len = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[len++] = digits[v % base];
        v /= base;
    } while (v);
    if (prec == 0 && len == 1 && tmp[0] == '0')
        len = 0;
    int zeros = prec > len ? prec - len : 0;
    int plen = 0;
    while (prefix && prefix[plen])
        plen++;
    int signlen = (neg || sign_char) ? 1 : 0;
    int total = signlen + plen + zeros + len;
    if (zero && !left && prec < 0 && width > total) {
        zeros += width - total;
        total = width;
    }
    if (!left)
        pad(o, ' ', width - total);
    if (neg)
        put(o, '-');
    else if (sign_char)
        put(o, sign_char);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    pad(o, '0', zeros);
    while (len)
        put(o, tmp[--len]);
    if (left)
        pad(o, ' ', width - total);
}

static void fixed(out *o, double d, int prec, int width, bool left)
{
    if (prec < 0)
        prec = 6;
    if (prec > 9)
        prec = 9;
    char tmp[64];
    int n = 0;
    bool neg = d < 0;
    if (neg)
        d = -d;
    if (d != d) {
        tmp[n++] = 'n', tmp[n++] = 'a', tmp[n++] = 'n';
    } else if (d > 1e18) {
        tmp[n++] = 'i', tmp[n++] = 'n', tmp[n++] = 'f';
    } else {
        uint64_t scale = 1;
        for (int i = 0; i < prec; i++)
            scale *= 10;
        uint64_t whole = (uint64_t)d;
        uint64_t frac = (uint64_t)((d - (double)whole) * (double)scale + 0.5);
        if (frac >= scale) {
            whole++;
            frac -= scale;
        }
        char w[24];
        int wl = 0;
        do {
            w[wl++] = (char)('0' + whole % 10);
            whole /= 10;
        } while (whole);
        while (wl)
            tmp[n++] = w[--wl];
        if (prec) {
            tmp[n++] = '.';
            for (int i = prec - 1; i >= 0; i--) {
                tmp[n + i] = (char)('0' + frac % 10);
                frac /= 10;
            }
            n += prec;
        }
    }
    int total = n + neg;
    if (!left)
        pad(o, ' ', width - total);
    if (neg)
        put(o, '-');
    for (int i = 0; i < n; i++)
        put(o, tmp[i]);
    if (left)
        pad(o, ' ', width - total);
}

int hlg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    out o = {buf, size, 0};
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        bool left = false, zero = false, alt = false;
        char sign_char = 0;
        for (;; p++) {
            if (p[1] == '-')
                left = true;
            else if (p[1] == '0')
                zero = true;
            else if (p[1] == '+')
                sign_char = '+';
            else if (p[1] == ' ')
                sign_char = sign_char ? sign_char : ' ';
            else if (p[1] == '#')
                alt = true;
            else
                break;
        }
        p++;
        int width = 0, prec = -1;
        if (*p == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                width = width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            prec = 0;
            if (*p == '*') {
                prec = va_arg(ap, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    prec = prec * 10 + (*p++ - '0');
            }
        }
        int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
        if (*p == 'l') {
            lng = 1;
            if (*++p == 'l') {
                lng = 2;
                p++;
            }
        } else if (*p == 'z') {
            lng = 3;
            p++;
        } else if (*p == 'h') {
            while (*p == 'h')
                p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long) : lng == 2 ? va_arg(ap, long long)
                                                                                           : (int64_t)va_arg(ap, size_t);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            number(&o, mag, v < 0, 10, false, width, prec, left, zero, sign_char, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = lng == 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long)
                                                         : lng == 2 ? va_arg(ap, unsigned long long)
                                                                    : va_arg(ap, size_t);
            unsigned base = *p == 'u' ? 10 : *p == 'o' ? 8 : 16;
            const char *prefix = alt && v ? (*p == 'x' ? "0x" : *p == 'X' ? "0X" : *p == 'o' ? "0" : 0) : 0;
            number(&o, v, false, base, *p == 'X', width, prec, left, zero, 0, prefix);
            break;
        }
        case 'p':
            number(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), false, 16, false, width, -1, left, false, 0,
                   "0x");
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!left)
                pad(&o, ' ', width - 1);
            put(&o, c);
            if (left)
                pad(&o, ' ', width - 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len] && (prec < 0 || len < prec))
                len++;
            if (!left)
                pad(&o, ' ', width - len);
            for (int i = 0; i < len; i++)
                put(&o, s[i]);
            if (left)
                pad(&o, ' ', width - len);
            break;
        }
        case 'f':
        case 'F':
        case 'g':
            fixed(&o, va_arg(ap, double), prec, width, left);
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size)
        buf[o.n < size ? o.n : size - 1] = '\0';
    return (int)o.n;
}

int hlg_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hlg_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
