/* keys — the Redis key schema, in one place. Every key starts with the
 * configured prefix. Names passed in are lower-cased names (see
 * valid_name_lower). Each builder writes into out (KEY_MAX bytes) and
 * returns the length, or -1 if it would not fit (never with valid names
 * and a prefix of at most 32 characters).
 *
 *   <p>user:<name>          hash  name, pw, created
 *   <p>users                set   lower-cased user names
 *   <p>sess:<tokhash>       hash  user (display name), created; TTL
 *   <p>usess:<name>         set   token hashes of a user's sessions
 *   <p>ch:<chan>            list  a channel's events (JSON), capped
 *   <p>meta:<chan>          hash  seq (last id), epoch
 *   <p>conv:<name>          zset  DM peers (display names) by last ts (ms)
 *   <p>unread:<name>        hash  conv key -> unread count (DMs)
 *   <p>readmark:<name>      hash  conv key -> last id read
 *   <p>clear:<name>         hash  conv key -> last id deleted by this user
 *   <p>room:<room>          hash  name, title, creator, created
 *   <p>rooms                set   lower-cased room names
 *   <p>members:<room>       set   display names of members
 *   <p>urooms:<name>        set   display names of rooms joined
 *   <p>cid:<name>:<conv>:<cid>  string  "id ts" of a send; TTL cid_ttl
 *   <p>rl:<kind>:<subject>  string  rate-limit counter; TTL window
 *   <p>presence             zset  lower-cased user -> expiry (ms)
 *   <p>media:<hash>         hash  mime, size, name, owner
 *   <p>media:<hash>:convs   set   channels of the conversations carrying it
 *
 * Channels (<chan> above): "u:<user>" inbox, "r:<room>" room stream,
 * "dm:<a>:<b>" with a < b, a DM pair's history. */
#ifndef SB_KEYS_H
#define SB_KEYS_H
#include <stddef.h>

#define KEY_MAX 256
#define CHAN_MAX 80

int keys_user(char out[KEY_MAX], const char *prefix, const char *name);
int keys_users(char out[KEY_MAX], const char *prefix);
int keys_session(char out[KEY_MAX], const char *prefix, const char *tokhash);
int keys_user_sessions(char out[KEY_MAX], const char *prefix, const char *name);
int keys_chan(char out[KEY_MAX], const char *prefix, const char *chan);
int keys_meta(char out[KEY_MAX], const char *prefix, const char *chan);
int keys_conv(char out[KEY_MAX], const char *prefix, const char *name);
int keys_unread(char out[KEY_MAX], const char *prefix, const char *name);
int keys_readmark(char out[KEY_MAX], const char *prefix, const char *name);
int keys_clear(char out[KEY_MAX], const char *prefix, const char *name);
int keys_room(char out[KEY_MAX], const char *prefix, const char *room);
int keys_rooms(char out[KEY_MAX], const char *prefix);
int keys_members(char out[KEY_MAX], const char *prefix, const char *room);
int keys_user_rooms(char out[KEY_MAX], const char *prefix, const char *name);
int keys_cid(char out[KEY_MAX], const char *prefix, const char *name, const char *cid);
int keys_ratelimit(char out[KEY_MAX], const char *prefix, const char *kind, const char *subject);
int keys_presence(char out[KEY_MAX], const char *prefix);
int keys_media(char out[KEY_MAX], const char *prefix, const char *hash);
int keys_media_convs(char out[KEY_MAX], const char *prefix, const char *hash);

/* Channel names (CHAN_MAX bytes). keys_chan_dm orders the pair. */
int keys_chan_inbox(char out[CHAN_MAX], const char *name);
int keys_chan_room(char out[CHAN_MAX], const char *room);
int keys_chan_dm(char out[CHAN_MAX], const char *a, const char *b);

#endif
