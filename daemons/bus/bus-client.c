/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "bus-client.h"

int bus_client_new(BusClient **ret, WsConn *conn) {
        BusClient *c = calloc(1, sizeof *c);

        assert(ret);
        assert(conn);

        if (!c)
                return -ENOMEM;
        c->conn = conn;
        c->role = _ROLE_INVALID;
        c->load.least_urgent = -1;
        c->errors = RATELIMIT_INIT(10 * USEC_PER_SEC, 50);
        *ret = c;
        return 0;
}

BusClient *bus_client_free(BusClient *c) {
        if (!c)
                return NULL;
        free(c->batch);
        held_free(c->unstarted);
        return mfree(c);
}

const char *bus_client_peer(const BusClient *c) {
        const char *p = c->conn ? ws_conn_get_peer(c->conn) : NULL;

        assert(c);

        return p ?: "unknown";
}

const char *bus_client_role(const BusClient *c) {
        assert(c);

        return role_to_string(c->role) ?: "unregistered";
}
