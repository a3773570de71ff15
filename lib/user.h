/* user — accounts: registration, password check (libsodium Argon2id),
 * lookup by name without regard to case, deletion and listing. */
#ifndef SB_USER_H
#define SB_USER_H
#include "rdb.h"
#include "valid.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 256

/* Who a request acts as: the name as registered and its lower-cased key. */
struct user_id {
    char name[NAME_MAX_LEN + 1];
    char lname[NAME_MAX_LEN + 1];
};

/* Fills id from a display name (already validated, e.g. from a session). */
int user_id_set(struct user_id *id, const char *name);

/* Creates a user. CHAT_ERR_INVALID: bad name or password length;
 * CHAT_ERR_CONFLICT: the name is taken in any case. */
int user_create(struct rdb *db, const char *name, const char *password);

/* Checks a password. 0 and *id filled; CHAT_ERR_UNAUTH for an unknown
 * user or a wrong password (the same answer, and the same Argon2 cost, for
 * both so timing does not reveal which names exist). */
int user_verify(struct rdb *db, const char *name, const char *password, struct user_id *id);

/* Finds a user by name in any case. CHAT_ERR_NOTFOUND if none,
 * CHAT_ERR_INVALID for a bad name. */
int user_lookup(struct rdb *db, const char *name, struct user_id *id);

/* Deletes the account, its sessions (their sockets close), room
 * memberships, inbox and conversation state. Messages stay in the
 * histories of others; a new account of the same name sees none of the
 * old direct messages. CHAT_ERR_NOTFOUND if none. */
int user_delete(struct rdb *db, const char *name);

/* Calls fn for each user name (as registered), in no particular order. */
int user_list(struct rdb *db, void (*fn)(const char *name, void *arg), void *arg);

#endif
