/* SPDX-License-Identifier: MIT */
/*
 * Intrusive doubly linked lists: an object that lives in a list embeds LIST_FIELDS(Type, name) and
 * the owner keeps a head pointer. Header only; no allocation, O(1) insert and remove.
 */
#pragma once

#include <stddef.h>

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                                  \
        do {                                                            \
                __typeof__(*(head)) **_head = &(head), *_item = (item); \
                _item->name##_prev = NULL;                              \
                _item->name##_next = *_head;                            \
                if (*_head)                                             \
                        (*_head)->name##_prev = _item;                  \
                *_head = _item;                                         \
        } while (0)

#define LIST_REMOVE(name, head, item)                                         \
        do {                                                                  \
                __typeof__(*(head)) **_head = &(head), *_item = (item);       \
                if (_item->name##_next)                                       \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                if (_item->name##_prev)                                       \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else                                                          \
                        *_head = _item->name##_next;                          \
                _item->name##_next = _item->name##_prev = NULL;               \
        } while (0)

/* Inserts `item` after `a`, or at the head when `a` is NULL. A FIFO keeps a tail pointer next to its
 * head and appends in O(1): LIST_INSERT_AFTER(name, head, tail, item); tail = item; */
#define LIST_INSERT_AFTER(name, head, a, item)                                     \
        do {                                                                       \
                __typeof__(*(head)) **_head = &(head), *_a = (a), *_item = (item); \
                _item->name##_prev = _a;                                           \
                _item->name##_next = _a ? _a->name##_next : *_head;                \
                if (_item->name##_next)                                            \
                        _item->name##_next->name##_prev = _item;                   \
                if (_a)                                                            \
                        _a->name##_next = _item;                                   \
                else                                                               \
                        *_head = _item;                                            \
        } while (0)

/* Removes the first item and evaluates to it, or to NULL when the list is empty. */
#define LIST_POP(name, head)                                          \
        ({                                                            \
                __typeof__(head) *_phead = &(head), _first = *_phead; \
                if (_first)                                           \
                        LIST_REMOVE(name, *_phead, _first);           \
                _first;                                               \
        })

#define LIST_FOREACH(name, i, head) for ((i) = (head); (i); (i) = (i)->name##_next)

/* Safe against removing `i` inside the loop. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for ((i) = (head); (i) && (((n) = (i)->name##_next), 1); (i) = (n))
