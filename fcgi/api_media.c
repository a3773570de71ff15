/* PUT /api/upload, GET /api/media/<hash> */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "err.h"
#include "log.h"
#include "media.h"
#include "params.h"
#include "xmalloc.h"

#define API_UPLOAD_CHUNK 65536

/* Streams the body into a temporary file in the media folder while
 * hashing it, then names it by its hash: the same content is stored once,
 * and a half-written upload never has a real name. */
static int api_upload_store(struct req *rq, size_t max, struct media_info *m)
{
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char *tmp = xasprintf("%s/.upload-XXXXXX", rq->cfg->media_dir), *final = NULL;
    char *buf = xmalloc(API_UPLOAD_CHUNK);
    size_t total = 0;
    int fd, n, rc = CHAT_ERR_IO;

    mkdir(rq->cfg->media_dir, 0750);
    if ((fd = mkstemp(tmp)) < 0) {
        log_error("media", "event=tmpfile_failed dir=%s err=\"%s\"", rq->cfg->media_dir, strerror(errno));
        goto out;
    }
    crypto_hash_sha256_init(&st);
    while ((n = FCGX_GetStr(buf, API_UPLOAD_CHUNK, rq->fx->in)) > 0) {
        total += (size_t)n;
        if (total > max) {
            rc = CHAT_ERR_TOOBIG;
            goto out;
        }
        crypto_hash_sha256_update(&st, (const unsigned char *)buf, (unsigned long long)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                log_error("media", "event=write_failed err=\"%s\"", strerror(errno));
                goto out;
            }
            off += w;
        }
    }
    if (total == 0) {
        rc = CHAT_ERR_INVALID;
        goto out;
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(m->hash, sizeof(m->hash), digest, sizeof(digest));
    m->size = (long long)total;
    final = media_path(rq->cfg, m->hash);
    if (close(fd) < 0 || rename(tmp, final) < 0) {
        fd = -1;
        log_error("media", "event=rename_failed to=%s err=\"%s\"", final, strerror(errno));
        goto out;
    }
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    free(final);
    free(buf);
    return rc;
}

void api_upload(struct req *rq, struct rdb *db)
{
    const char *name = params_str(rq->params, "name"), *cl = req_env(rq, "CONTENT_LENGTH");
    struct media_info m;
    cJSON *body;
    int rc;

    memset(&m, 0, sizeof(m));
    if (!name || !media_name_ok(name))
        return req_reply_error(rq, CHAT_ERR_INVALID, "name must be a file name of 1-255 bytes");
    if (!media_type_allowed(rq->cfg, req_env(rq, "CONTENT_TYPE"), m.mime))
        return req_reply_error(rq, CHAT_ERR_TYPE, "this type of file is not accepted");
    if (cl && strtoll(cl, NULL, 10) > rq->cfg->upload_max)
        return req_reply_error(rq, CHAT_ERR_TOOBIG, "the file is larger than allowed");
    snprintf(m.name, sizeof(m.name), "%s", name);
    rc = api_upload_store(rq, (size_t)rq->cfg->upload_max, &m);
    if (rc < 0)
        return req_reply_error(rq, rc, rc == CHAT_ERR_TOOBIG ? "the file is larger than allowed"
                                       : rc == CHAT_ERR_INVALID ? "the file is empty" : NULL);
    if ((rc = media_register(db, &rq->me, &m)) < 0)
        return req_reply_error(rq, rc, NULL);
    /* The same content uploaded before keeps its first description. */
    {
        char hash[MEDIA_HASH_LEN + 1];
        memcpy(hash, m.hash, sizeof(hash));
        if ((rc = media_lookup(db, hash, &m)) < 0)
            return req_reply_error(rq, rc, NULL);
    }
    log_info("media", "event=upload user=%s hash=%s size=%lld mime=%s", rq->me.name, m.hash, m.size, m.mime);
    body = media_att_json(&m);
    req_reply_json(rq, 201, body, "");
    cJSON_Delete(body);
}

void api_media_get(struct req *rq, struct rdb *db)
{
    const char *hash = rq->path + sizeof(MEDIA_URL_PREFIX) - 1;
    struct media_info m;
    char *path, *extra;
    int rc, inline_ok;

    rc = media_allowed(db, &rq->me, hash, &m);
    if (rc < 0)
        return req_reply_error(rq, rc == CHAT_ERR_INVALID ? CHAT_ERR_NOTFOUND : rc,
                               rc == CHAT_ERR_FORBIDDEN ? "not in a conversation that carries this file"
                                                        : "no such file");
    /* Pictures, video and sound open in the page; anything else downloads
     * (with nosniff, a stored type can never become script). */
    inline_ok = strncmp(m.mime, "image/", 6) == 0 || strncmp(m.mime, "video/", 6) == 0 ||
                strncmp(m.mime, "audio/", 6) == 0;
    path = media_path(rq->cfg, m.hash);
    extra = xasprintf("Content-Type: %s\r\nX-Sendfile: %s\r\nContent-Disposition: %s\r\n"
                      "Cache-Control: private, max-age=86400\r\n",
                      m.mime, path, inline_ok ? "inline" : "attachment");
    FCGX_FPrintF(rq->fx->out, "Status: 200 OK\r\n%sX-Content-Type-Options: nosniff\r\n\r\n", extra);
    rq->status = 200;
    free(extra);
    free(path);
}
