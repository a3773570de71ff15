/* chatctl — administration from the command line: users, rooms, stats.
 * Talks to Redis directly with the same library as the FastCGI programs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "fcgisrv.h"
#include "keys.h"
#include "rdb.h"
#include "room.h"
#include "user.h"

static void chatctl_usage(FILE *f)
{
    fprintf(f,
            "Usage: chatctl [-c FILE] COMMAND [ARGS]\n"
            "Switchboard administration.\n\n"
            "  user add NAME [PASSWORD]   create a user (password read from stdin if omitted)\n"
            "  user del NAME              delete a user, their sessions and memberships\n"
            "  user list                  list user names\n"
            "  room add NAME [TITLE]      create a room with no members\n"
            "  room del NAME              delete a room and its history\n"
            "  room list                  list rooms with member counts\n"
            "  stats                      counts of users, rooms, sessions, online users\n\n"
            "  -c FILE     configuration file (default: $SWITCHBOARD_CONF or %s)\n"
            "  -h, --help  show this help\n",
            SB_SYSCONFDIR "/switchboard/switchboard.conf");
}

/* Prints the failure once and gives the exit status. */
static int chatctl_fail(const char *what, int rc)
{
    fprintf(stderr, "chatctl: %s: %s\n", what,
            rc == CHAT_ERR_UNAVAILABLE ? "Redis is unreachable"
            : rc == CHAT_ERR_CONFLICT ? "name already taken"
            : rc == CHAT_ERR_NOTFOUND ? "not found"
            : rc == CHAT_ERR_INVALID ? "invalid name or value" : err_code(rc));
    return 1;
}

static void chatctl_print_name(const char *name, void *arg)
{
    (void)arg;
    printf("%s\n", name);
}

static int chatctl_user(struct rdb *db, int argc, char **argv)
{
    char line[PASSWORD_MAX + 2];
    const char *pw;
    int rc;

    if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc == 1)
        return (rc = user_list(db, chatctl_print_name, NULL)) < 0 ? chatctl_fail("user list", rc) : 0;
    if (argc == 2 && strcmp(argv[0], "del") == 0)
        return (rc = user_delete(db, argv[1])) < 0 ? chatctl_fail(argv[1], rc) : 0;
    if ((argc == 2 || argc == 3) && strcmp(argv[0], "add") == 0) {
        pw = argc == 3 ? argv[2] : NULL;
        if (!pw) {
            if (!fgets(line, sizeof(line), stdin)) {
                fprintf(stderr, "chatctl: no password on stdin\n");
                return 1;
            }
            line[strcspn(line, "\r\n")] = '\0';
            pw = line;
        }
        if ((rc = user_create(db, argv[1], pw)) < 0)
            return chatctl_fail(argv[1], rc);
        printf("created user %s\n", argv[1]);
        return 0;
    }
    chatctl_usage(stderr);
    return 2;
}

static int chatctl_room(struct rdb *db, int argc, char **argv)
{
    cJSON *out = NULL, *r;
    int rc;

    if (argc == 1 && strcmp(argv[0], "list") == 0) {
        struct user_id nobody = { "-", "-" };
        if ((rc = room_list(db, &nobody, &out)) < 0)
            return chatctl_fail("room list", rc);
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(out, "rooms")) {
            printf("%s\t%d\t%s\n", cJSON_GetObjectItemCaseSensitive(r, "room")->valuestring,
                   cJSON_GetObjectItemCaseSensitive(r, "members")->valueint,
                   cJSON_GetObjectItemCaseSensitive(r, "title")->valuestring);
        }
        cJSON_Delete(out);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "del") == 0)
        return (rc = room_delete(db, argv[1])) < 0 ? chatctl_fail(argv[1], rc) : 0;
    if ((argc == 2 || argc == 3) && strcmp(argv[0], "add") == 0) {
        if ((rc = room_create(db, NULL, argv[1], argc == 3 ? argv[2] : NULL, &out)) < 0)
            return chatctl_fail(argv[1], rc);
        cJSON_Delete(out);
        printf("created room %s\n", argv[1]);
        return 0;
    }
    chatctl_usage(stderr);
    return 2;
}

static int chatctl_stats(struct rdb *db)
{
    const char *p = db->cfg->key_prefix;
    char users[KEY_MAX], rooms[KEY_MAX], presence[KEY_MAX], pattern[KEY_MAX];
    redisReply *a = NULL, *b = NULL, *c = NULL, *scan = NULL;
    long long sessions = 0;
    char cursor[32] = "0";
    int rc, rounds = 0;

    keys_users(users, p);
    keys_rooms(rooms, p);
    keys_presence(presence, p);
    keys_session(pattern, p, "*");
    if ((rc = rdb_cmd(db, &a, "SCARD %s", users)) < 0 ||
        (rc = rdb_cmd(db, &b, "SCARD %s", rooms)) < 0 ||
        (rc = rdb_cmd(db, &c, "ZCOUNT %s %lld +inf", presence, clock_now_ms())) < 0)
        goto out;
    /* Sessions have no index of their own (they expire one by one), so
     * count them with SCAN; bounded so a huge keyspace cannot hang us. */
    do {
        const redisReply *next, *keys;
        if ((rc = rdb_cmd(db, &scan, "SCAN %s MATCH %s COUNT 1000", cursor, pattern)) < 0)
            goto out;
        next = rdb_elem(scan, 0);
        keys = rdb_elem(scan, 1);
        snprintf(cursor, sizeof(cursor), "%s", next && next->type == REDIS_REPLY_STRING ? next->str : "0");
        sessions += keys ? (long long)keys->elements : 0;
        freeReplyObject(scan);
        scan = NULL;
    } while (strcmp(cursor, "0") != 0 && ++rounds < 100000);
    printf("users %lld\nrooms %lld\nsessions %lld\nonline %lld\n", rdb_int(a), rdb_int(b), sessions,
           rdb_int(c));
out:
    if (a) freeReplyObject(a);
    if (b) freeReplyObject(b);
    if (c) freeReplyObject(c);
    return rc < 0 ? chatctl_fail("stats", rc) : 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct chat_config cfg;
    struct rdb db;
    const char *conf = NULL;
    int opt, rc;

    memset(&cfg, 0, sizeof(cfg));
    while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'h': chatctl_usage(stdout); return 0;
        default: chatctl_usage(stderr); return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        chatctl_usage(stderr);
        return 2;
    }
    if ((rc = fcgisrv_load_config("chatctl", conf, &cfg)) != 0) {
        config_free(&cfg);
        return rc;
    }
    rdb_init(&db, &cfg);
    if (strcmp(argv[0], "user") == 0)
        rc = chatctl_user(&db, argc - 1, argv + 1);
    else if (strcmp(argv[0], "room") == 0)
        rc = chatctl_room(&db, argc - 1, argv + 1);
    else if (strcmp(argv[0], "stats") == 0 && argc == 1)
        rc = chatctl_stats(&db);
    else {
        chatctl_usage(stderr);
        rc = 2;
    }
    rdb_close(&db);
    config_free(&cfg);
    return rc;
}
