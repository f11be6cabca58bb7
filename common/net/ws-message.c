/* SPDX-License-Identifier: MIT */
/*
 * WsMessage: a ref-counted outgoing text payload with libwebsockets' header room in front, filled
 * once and queued by ref on every connection it goes to. The last unref frees it; a send queue holds
 * one ref per queued copy (ws-conn.c).
 */
#include <string.h>

#include "ws-internal.h"

int ws_message_new(WsMessage **ret, const char *data, size_t size) {
        WsMessage *m;

        assert(ret);
        assert(data || size == 0);

        if (size > SIZE_MAX - sizeof(WsMessage) - LWS_PRE - 1)
                return -EMSGSIZE;
        m = malloc(sizeof(WsMessage) + LWS_PRE + size + 1);
        if (!m)
                return -ENOMEM;
        m->n_ref = 1;
        m->size = size;
        if (size > 0)
                memcpy(m->buf + LWS_PRE, data, size);
        m->buf[LWS_PRE + size] = 0;
        *ret = m;
        return 0;
}

WsMessage *ws_message_ref(WsMessage *m) {
        if (m)
                m->n_ref++;
        return m;
}

WsMessage *ws_message_unref(WsMessage *m) {
        if (m && --m->n_ref == 0)
                free(m);
        return NULL;
}
