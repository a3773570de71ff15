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

#endif
