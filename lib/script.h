/* script — the Lua scripts embedded at build time (lib/lua/NAME.lua, listed
 * in Makefile.am; the SCRIPT_* ids come from the generated scripts_gen.h)
 * and their SHA-1 digests for EVALSHA. */
#ifndef SB_SCRIPT_H
#define SB_SCRIPT_H
#include "scripts_gen.h"

/* Static strings, valid for the program's life; safe from any thread (the
 * digests are computed once, under pthread_once). */
const char *script_name(enum script_id id);
const char *script_source(enum script_id id);
const char *script_sha(enum script_id id);   /* 40 lower-case hex digits */

#define SCRIPT_MAX_ARGS 32

/* An EVALSHA command for id over nkeys keys then nargs arguments (argv):
 * fills cmd (SCRIPT_MAX_ARGS + 3 entries; nkbuf holds the key count) and
 * returns its length, or -1 if there are too many arguments. */
int script_evalsha_argv(enum script_id id, int nkeys, int nargs, const char *const *argv,
                        const char **cmd, char nkbuf[16]);

#endif
