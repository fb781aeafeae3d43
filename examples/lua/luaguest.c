/* luaguest.c - a guest that embeds Debian's Lua 5.4 interpreter, unchanged: eval(chunk) and run(chunk) run Lua code from the host. */
#include "hyperlight_guest.h"

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

/* A 1 MiB stack for the interpreter's C recursion (Lua bounds it at LUAI_MAXCCALLS levels), and
 * a 32 MiB heap: a few MB of strings and tables per call, with the collector's slack. */
HLG_RESOURCES(1024 * 1024, 32 * 1024 * 1024);

/* The interpreter, created with the standard libraries in hyperlight_main(): it is part of the
 * snapshot, so every call starts from this fresh state and nothing one call does (globals,
 * loaded chunks, garbage) is seen by the next. */
static lua_State *g_lua;

/* Registry key of the last result: keeps its string alive (and unmoved) after the call returns,
 * until the host has copied it out. */
#define RESULT_KEY "luaguest.result"

/* Protected: loads the chunk at index 1 (named "=eval", so messages read "eval:LINE: ..."), runs
 * it and returns one string: its results converted with tostring, separated by tabs as `print`
 * does ("" when it returns nothing). Any error (syntax, run time, a failing __tostring, memory)
 * propagates to the caller's lua_pcall. */
static int eval_chunk(lua_State *L)
{
    size_t len;
    const char *chunk = lua_tolstring(L, 1, &len);
    if (luaL_loadbufferx(L, chunk, len, "=eval", "t") != LUA_OK)
        return lua_error(L);
    int base = lua_gettop(L) - 1; /* the results go where the function is */
    lua_call(L, 0, LUA_MULTRET);
    int n = lua_gettop(L) - base;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, base + i, NULL); /* pushes the string form */
        luaL_addvalue(&b);                 /* and moves it into the buffer */
    }
    luaL_pushresult(&b);
    return 1;
}

/* Runs a chunk in the interpreter. Returns LUA_OK with the result string in *out, or Lua's
 * status with the error message (tostring of the error value) in *out. Either string stays valid
 * until the call ends. Whatever the chunk printed is flushed to the host first. */
static int lua_run(const hlg_value *chunk, hlg_value *out)
{
    lua_State *L = g_lua;
    lua_settop(L, 0);
    lua_pushcfunction(L, eval_chunk);
    lua_pushlstring(L, chunk->u.str.ptr, chunk->u.str.len);
    int status = lua_pcall(L, 1, 1, 0);
    if (status != LUA_OK && lua_type(L, -1) != LUA_TSTRING) {
        /* error({...}) and friends: describe the value without calling its metamethods */
        const char *what = luaL_typename(L, -1);
        lua_pop(L, 1);
        lua_pushfstring(L, "(error object is a %s value)", what);
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RESULT_KEY);
    fflush(stdout); /* the C library buffers print()'s output: the host gets it before the result */
    out->u.str.ptr = s;
    out->u.str.len = (uint32_t)len;
    return status;
}

/* eval(string chunk) -> string: the chunk's results as text, or, when it raised an error, Lua's
 * error message (e.g. "eval:1: boom") as the result; the call itself succeeds. */
static int eval(const hlg_value *a, hlg_value *r)
{
    lua_run(&a[0], r);
    return 0;
}

/* run(string chunk) -> string: like eval, but a Lua error fails the call with a guest error
 * (HL_GERR_GUEST_ERROR) whose message is "lua: " and Lua's message. */
static int run(const hlg_value *a, hlg_value *r)
{
    if (lua_run(&a[0], r) != LUA_OK)
        return hlg_error(HL_GERR_GUEST_ERROR, "lua: %.*s", (int)r->u.str.len, r->u.str.ptr);
    return 0;
}

/* The interpreter's version, e.g. "Lua 5.4" (the _VERSION global). */
static int version(const hlg_value *a, hlg_value *r)
{
    static const hlg_value chunk = {.type = HL_TYPE_STRING, .u.str = {"return _VERSION", 15}};
    return lua_run(&chunk, r) == LUA_OK ? 0 : hlg_error(HL_GERR_GUEST_ERROR, "lua: _VERSION failed");
}

void hyperlight_main(void)
{
    g_lua = luaL_newstate();
    if (!g_lua)
        hlg_panic("luaL_newstate failed: the heap has %llu bytes free", (unsigned long long)hlg_heap_free());
    luaL_openlibs(g_lua); /* all of them: io and os fail with errno messages where a sandbox has no files */
    hlg_register("eval", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), eval);
    hlg_register("run", HL_TYPE_STRING, HLG_PARAMS(HL_TYPE_STRING), run);
    hlg_register("version", HL_TYPE_STRING, HLG_NO_PARAMS, version);
}
