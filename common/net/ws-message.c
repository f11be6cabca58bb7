/* SPDX-License-Identifier: MIT */
/*
 * WsMessage: a ref-counted outgoing text payload with libwebsockets' header room in front, filled
 * once and queued by ref on every connection it goes to. The last unref frees it; a send queue holds
 * one ref per queued copy (ws-conn.c).
 */
#include <string.h>

#include "ws-internal.h"

int ws_message_new_parts(WsMessage **ret, const struct iovec *parts, size_t n_parts) {
        size_t size = 0, at = LWS_PRE;
        WsMessage *m;

        assert(ret);
        assert(parts || n_parts == 0);

        for (size_t i = 0; i < n_parts; i++) {
                if (parts[i].iov_len > SIZE_MAX - sizeof(WsMessage) - LWS_PRE - 1 - size)
                        return -EMSGSIZE;
                size += parts[i].iov_len;
        }
        m = malloc(sizeof(WsMessage) + LWS_PRE + size + 1);
        if (!m)
                return -ENOMEM;
        m->n_ref = 1;
        m->size = size;
        for (size_t i = 0; i < n_parts; i++) {
                if (parts[i].iov_len > 0)
                        memcpy(m->buf + at, parts[i].iov_base, parts[i].iov_len);
                at += parts[i].iov_len;
        }
        m->buf[at] = 0;
        *ret = m;
        return 0;
}

int ws_message_new(WsMessage **ret, const char *data, size_t size) {
        assert(data || size == 0);

        return ws_message_new_parts(ret, &(struct iovec){ .iov_base = (void *) data, .iov_len = size }, 1);
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
