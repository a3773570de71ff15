#include "script.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static char script_shas[SCRIPT_COUNT][2 * SHA_DIGEST_LENGTH + 1];
static pthread_once_t script_once = PTHREAD_ONCE_INIT;

/* Redis names a script by the SHA-1 of its source, so computing it here
 * lets the first EVALSHA succeed without a SCRIPT LOAD round trip. */
static void script_digest_all(void)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        const char *src = scripts_gen_src[i];
        SHA1((const unsigned char *)src, strlen(src), md);
        for (int j = 0; j < SHA_DIGEST_LENGTH; j++)
            snprintf(script_shas[i] + 2 * j, 3, "%02x", md[j]);
    }
}

const char *script_name(enum script_id id)
{
    return scripts_gen_name[id];
}

const char *script_source(enum script_id id)
{
    return scripts_gen_src[id];
}

const char *script_sha(enum script_id id)
{
    pthread_once(&script_once, script_digest_all);
    return script_shas[id];
}

int script_evalsha_argv(enum script_id id, int nkeys, int nargs, const char *const *argv,
                        const char **cmd, char nkbuf[16])
{
    int n = nkeys + nargs;

    if (nkeys < 0 || nargs < 0 || n > SCRIPT_MAX_ARGS)
        return -1;
    snprintf(nkbuf, 16, "%d", nkeys);
    cmd[0] = "EVALSHA";
    cmd[1] = script_sha(id);
    cmd[2] = nkbuf;
    for (int i = 0; i < n; i++)
        cmd[3 + i] = argv[i];
    return n + 3;
}
