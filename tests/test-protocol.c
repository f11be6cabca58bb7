/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "protocol-fast.h"
#include "protocol.h"

#define MAX_RUNTIME 60.0

/* frame_parse() on a C string that must be rejected; returns the error code. */
static ProtocolError frame_error_n(const char *data, size_t size) {
        ProtocolStatus st = { .error = _PROTOCOL_ERROR_INVALID };
        Frame f;

        assert_int_equal(frame_parse(&f, data, size, MAX_RUNTIME, &st), -EINVAL);
        assert_null(f.payload);
        assert_non_null(protocol_error_to_string(st.error));
        assert_true(strlen(st.message) > 0);
        frame_done(&f);
        return st.error;
}

static ProtocolError frame_error(const char *s) {
        return frame_error_n(s, strlen(s));
}

static ProtocolError job_error_n(const char *data, size_t size) {
        ProtocolStatus st = { .error = _PROTOCOL_ERROR_INVALID };
        JobRequest jr;

        assert_int_equal(job_request_parse(&jr, data, size, MAX_RUNTIME, &st), -EINVAL);
        assert_non_null(protocol_error_to_string(st.error));
        return st.error;
}

static ProtocolError job_error(const char *s) {
        return job_error_n(s, strlen(s));
}

static void frame_ok(Frame *f, const char *s) {
        ProtocolStatus st = {};

        assert_int_equal(frame_parse(f, s, strlen(s), MAX_RUNTIME, &st), 0);
}

static void test_enum_tables(void **state) {
        for (Role r = 0; r < _ROLE_MAX; r++)
                assert_int_equal(role_from_string(role_to_string(r)), r);
        assert_string_equal(role_to_string(ROLE_SCHEDULER), "scheduler");
        assert_int_equal(command_from_string("register"), COMMAND_REGISTER);
        assert_int_equal(command_from_string("job_request"), COMMAND_JOB_REQUEST);
        assert_string_equal(protocol_error_to_string(PROTOCOL_INVALID_MESSAGE), "invalid_message");
        assert_string_equal(protocol_error_to_string(PROTOCOL_UNKNOWN_CMD), "unknown_cmd");
        assert_null(role_to_string(_ROLE_MAX));
        assert_null(protocol_error_to_string(_PROTOCOL_ERROR_MAX));
        assert_null(protocol_error_to_string(_PROTOCOL_ERROR_INVALID));
        assert_int_equal(role_from_string("Producer"), _ROLE_INVALID);
        assert_int_equal(command_from_string(NULL), _COMMAND_INVALID);
        assert_int_equal(command_from_string("Register"), _COMMAND_INVALID);
}

static void test_register(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\": \"register\", \"type\": \"producer\"}");
        assert_int_equal(f.command, COMMAND_REGISTER);
        assert_int_equal(f.role, ROLE_PRODUCER);
        assert_null(f.payload);
        frame_done(&f);

        /* Extra fields, other key order, a payload that is not a job: all ignored. */
        frame_ok(&f, "{\"type\":\"scheduler\",\"x\":[1,{}],\"payload\":7,\"cmd\":\"register\"}");
        assert_int_equal(f.command, COMMAND_REGISTER);
        assert_int_equal(f.role, ROLE_SCHEDULER);
        assert_null(f.payload);
        frame_done(&f);
}

static void test_invalid_type(void **state) {
        assert_int_equal(frame_error("{\"cmd\":\"register\"}"), PROTOCOL_INVALID_TYPE);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":1}"), PROTOCOL_INVALID_TYPE);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":null}"), PROTOCOL_INVALID_TYPE);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"Producer\"}"), PROTOCOL_INVALID_TYPE);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"\"}"), PROTOCOL_INVALID_TYPE);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":[\"producer\"]}"),
                         PROTOCOL_INVALID_TYPE);
}

static void test_job_request(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\": \"job_request\", \"payload\": {\"priority\": 3, \"runtime\": 7}}");
        assert_int_equal(f.command, COMMAND_JOB_REQUEST);
        assert_int_equal(f.role, _ROLE_INVALID);
        assert_int_equal(f.priority, 3);
        assert_true(f.runtime == 7.0);
        /* Read without jansson: the producer's bytes, the tree only when asked for. */
        assert_null(f.payload);
        assert_non_null(f.payload_text);
        assert_int_equal(f.payload_size, strlen("{\"priority\": 3, \"runtime\": 7}"));
        assert_memory_equal(f.payload_text, "{\"priority\": 3, \"runtime\": 7}", f.payload_size);
        assert_true(json_is_object(frame_payload(&f)));
        assert_int_equal(json_integer_value(json_object_get(f.payload, "priority")), 3);
        frame_done(&f);
        assert_null(f.payload);
        assert_null(f.payload_text);
        frame_done(&f); /* twice is harmless */

        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":0,\"runtime\":2.5}}");
        assert_int_equal(f.priority, 0);
        assert_true(f.runtime == 2.5);
        frame_done(&f);

        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":10,\"runtime\":0}}");
        assert_int_equal(f.priority, 10);
        assert_true(f.runtime == 0.0);
        frame_done(&f);

        /* A client that never registered, whitespace around the object: accepted. */
        frame_ok(&f, " \n{\"payload\":{\"runtime\":1e1,\"priority\":-0},\"cmd\":\"job_request\"}\t ");
        assert_int_equal(f.priority, 0);
        assert_true(f.runtime == 10.0);
        frame_done(&f);
}

static void test_runtime_bounds(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":60}}");
        assert_true(f.runtime == MAX_RUNTIME);
        frame_done(&f);

        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":-0.0}}");
        assert_true(f.runtime == 0.0);
        assert_false(signbit(f.runtime));
        frame_done(&f);

        /* Underflows to 0 rather than failing. */
        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1e-400}}");
        assert_true(f.runtime == 0.0);
        frame_done(&f);

        assert_int_equal(
                frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":60.000001}}"),
                PROTOCOL_INVALID_RUNTIME);
}

static void test_extra_fields_kept(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":2,\"runtime\":4,\"name\":\"x\","
                     "\"tags\":[1,2],\"meta\":{\"a\":null}},\"extra\":true}");
        assert_int_equal(json_object_size(frame_payload(&f)), 5);
        assert_string_equal(json_string_value(json_object_get(frame_payload(&f), "name")), "x");
        assert_int_equal(json_array_size(json_object_get(frame_payload(&f), "tags")), 2);
        assert_true(json_is_null(json_object_get(json_object_get(frame_payload(&f), "meta"), "a")));
        assert_null(json_object_get(frame_payload(&f), "extra"));
        frame_done(&f);
}

static void test_invalid_json(void **state) {
        assert_int_equal(frame_error(""), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error_n(NULL, 0), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("   "), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"cmd\":"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{'cmd':'register'}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"producer\"} x"),
                         PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{}{}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"a\":NaN}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"a\":01}"), PROTOCOL_INVALID_JSON);
}

static void test_invalid_message(void **state) {
        static const char *const inputs[] = {
                "[]",
                "[{\"cmd\":\"register\",\"type\":\"producer\"}]",
                "3",
                "-1.5",
                "\"register\"",
                "null",
                "true",
                "{}",
                "{\"cmd\":3}",
                "{\"cmd\":null}",
                "{\"cmd\":[\"register\"]}",
                "{\"cmd\":{}}",
                "{\"CMD\":\"register\",\"type\":\"producer\"}",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++)
                assert_int_equal(frame_error(inputs[i]), PROTOCOL_INVALID_MESSAGE);
}

static void test_unknown_cmd(void **state) {
        ProtocolStatus st;
        Frame f;
        const char *s;

        assert_int_equal(frame_error("{\"cmd\":\"\"}"), PROTOCOL_UNKNOWN_CMD);
        assert_int_equal(frame_error("{\"cmd\":\"Register\",\"type\":\"producer\"}"), PROTOCOL_UNKNOWN_CMD);
        assert_int_equal(frame_error("{\"cmd\":\"job_request \"}"), PROTOCOL_UNKNOWN_CMD);

        /* The detail quotes the name, but only printable ASCII and only so much of it. */
        s = "{\"cmd\":\"a\\nb\\u00e9\\u0001c\"}";
        assert_int_equal(frame_parse(&f, s, strlen(s), MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(st.error, PROTOCOL_UNKNOWN_CMD);
        assert_non_null(strstr(st.message, "\"a?b???c\""));

        s = "{\"cmd\":"
            "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "x\"}";
        assert_int_equal(frame_parse(&f, s, strlen(s), MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(st.error, PROTOCOL_UNKNOWN_CMD);
        assert_non_null(strstr(st.message, "xxx...\""));
        assert_true(strlen(st.message) < 64);
}

static void test_invalid_payload(void **state) {
        static const char *const inputs[] = {
                "{\"cmd\":\"job_request\"}",
                "{\"cmd\":\"job_request\",\"payload\":null}",
                "{\"cmd\":\"job_request\",\"payload\":[]}",
                "{\"cmd\":\"job_request\",\"payload\":[{\"priority\":1,\"runtime\":1}]}",
                "{\"cmd\":\"job_request\",\"payload\":\"{\\\"priority\\\":1,\\\"runtime\\\":1}\"}",
                "{\"cmd\":\"job_request\",\"payload\":5}",
                "{\"cmd\":\"job_request\",\"priority\":1,\"runtime\":1}",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++)
                assert_int_equal(frame_error(inputs[i]), PROTOCOL_INVALID_PAYLOAD);
}

/* Each value between `head` and `tail` makes a frame that is rejected with `expected`. */
static void check_values_rejected(const char *head, const char *const *values, size_t n, const char *tail,
                                  ProtocolError expected) {
        for (size_t i = 0; i < n; i++) {
                char buf[256];

                (void) snprintf(buf, sizeof(buf), "%s%s%s", head, values[i], tail);
                assert_int_equal(frame_error(buf), expected);
        }
}

static void test_invalid_priority(void **state) {
        static const char *const values[] = {
                "11",
                "-1",
                "1.0",
                "1.5",
                "1e0",
                "\"3\"",
                "true",
                "false",
                "null",
                "[1]",
                "{}",
                "100000000000",
                "-9223372036854775808",
                "9223372036854775807",
        };

        check_values_rejected("{\"cmd\":\"job_request\",\"payload\":{\"priority\":", values,
                              ELEMENTSOF(values), ",\"runtime\":1}}", PROTOCOL_INVALID_PRIORITY);
        assert_int_equal(frame_error("{\"cmd\":\"job_request\",\"payload\":{\"runtime\":1}}"),
                         PROTOCOL_INVALID_PRIORITY);
        /* Priority is checked before runtime. */
        assert_int_equal(
                frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":\"x\",\"runtime\":-1}}"),
                PROTOCOL_INVALID_PRIORITY);
}

static void test_invalid_runtime(void **state) {
        static const char *const values[] = {
                "-1",
                "-0.5",
                "-1e-300",
                "\"5\"",
                "null",
                "true",
                "[1]",
                "{}",
                "61",
                "1e308",
                "9223372036854775807",
        };

        check_values_rejected("{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":", values,
                              ELEMENTSOF(values), "}}", PROTOCOL_INVALID_RUNTIME);
        assert_int_equal(frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":1}}"),
                         PROTOCOL_INVALID_RUNTIME);
}

static void test_huge_numbers(void **state) {
        /* Beyond what jansson represents: the whole frame is invalid JSON. */
        assert_int_equal(
                frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":99999999999999999999999,"
                            "\"runtime\":1}}"),
                PROTOCOL_INVALID_JSON);
        assert_int_equal(
                frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1e400}}"),
                PROTOCOL_INVALID_JSON);
        assert_int_equal(
                frame_error("{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":-1e400}}"),
                PROTOCOL_INVALID_JSON);
}

static void test_non_utf8(void **state) {
        assert_int_equal(frame_error("{\"cmd\":\"\xff\"}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"produc\xc3\"}"),
                         PROTOCOL_INVALID_JSON);
        /* An overlong encoding of '/' and a lone surrogate escape. */
        assert_int_equal(frame_error("{\"cmd\":\"\xc0\xaf\"}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"cmd\":\"\\ud800\"}"), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("\xef\xbb\xbf{\"cmd\":\"register\",\"type\":\"producer\"}"),
                         PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("\x80\x81\x82"), PROTOCOL_INVALID_JSON);
}

static void test_embedded_nul(void **state) {
        static const char with_nul[] = "{\"cmd\":\"register\",\"type\":\"producer\"}";
        static const char nul_inside[] = "{\"cmd\":\"reg\0ister\",\"type\":\"producer\"}";

        /* The terminating NUL counted as part of the frame. */
        assert_int_equal(frame_error_n(with_nul, sizeof(with_nul)), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error_n(nul_inside, sizeof(nul_inside) - 1), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error("{\"cmd\":\"register\\u0000\",\"type\":\"producer\"}"),
                         PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error_n("\0", 1), PROTOCOL_INVALID_JSON);
}

static void test_not_nul_terminated(void **state) {
        static const char buf[] = "{\"cmd\":\"register\",\"type\":\"producer\"}GARBAGE";
        ProtocolStatus st;
        Frame f;

        assert_int_equal(frame_parse(&f, buf, strlen(buf) - strlen("GARBAGE"), MAX_RUNTIME, &st), 0);
        assert_int_equal(f.role, ROLE_PRODUCER);
        frame_done(&f);
        /* Cut inside the object. */
        assert_int_equal(frame_error_n(buf, 10), PROTOCOL_INVALID_JSON);
}

static char *nested(const char *prefix, unsigned depth, const char *suffix) {
        size_t lp = strlen(prefix), ls = strlen(suffix);
        char *s = malloc(lp + 2 * (size_t) depth + ls + 1);
        char *p = s;

        assert_non_null(s);
        p = mempcpy(p, prefix, lp);
        memset(p, '[', depth);
        p += depth;
        memset(p, ']', depth);
        p += depth;
        p = mempcpy(p, suffix, ls);
        *p = '\0';
        return s;
}

static void test_deep_nesting(void **state) {
        _cleanup_free_ char *deep = nested("", 100000, "");
        _cleanup_free_ char *deep_payload = nested(
                "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1,\"x\":", 5000, "}}");
        _cleanup_free_ char *ok_payload = nested(
                "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1,\"x\":", 200, "}}");
        _cleanup_free_ char *unclosed = malloc(70000);
        Frame f;

        assert_int_equal(frame_error(deep), PROTOCOL_INVALID_JSON);
        assert_int_equal(frame_error(deep_payload), PROTOCOL_INVALID_JSON);
        assert_non_null(unclosed);
        memset(unclosed, '{', 70000);
        assert_int_equal(frame_error_n(unclosed, 70000), PROTOCOL_INVALID_JSON);

        frame_ok(&f, ok_payload);
        assert_true(json_is_array(json_object_get(frame_payload(&f), "x")));
        frame_done(&f);
}

static void test_status_optional(void **state) {
        Frame f;

        assert_int_equal(frame_parse(&f, "[", 1, MAX_RUNTIME, NULL), -EINVAL);
        assert_int_equal(frame_parse(&f, "{\"cmd\":\"x\"}", 11, MAX_RUNTIME, NULL), -EINVAL);
        frame_done(&f);
}

static void test_dump_job(void **state) {
        _cleanup_(json_decrefp) json_t *back = NULL;
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        Frame f;

        frame_ok(
                &f,
                "{\"cmd\":\"job_request\",\"payload\":{\"priority\":2,\"runtime\":4.5,\"name\":\"w\\u00e9\","
                "\"tags\":[1,{\"k\":null}]}}");
        assert_int_equal(protocol_dump_job(frame_payload(&f), 42, &s, &size), 0);
        assert_int_equal(size, strlen(s));
        /* Compact, and the producer's fields come first, untouched. */
        assert_string_equal(s, "{\"priority\":2,\"runtime\":4.5,\"name\":\"w\xc3\xa9\",\"tags\":[1,{\"k\":"
                               "null}],\"id\":42}");

        back = json_loads(s, 0, NULL);
        assert_non_null(back);
        assert_int_equal(json_integer_value(json_object_get(back, "id")), 42);
        /* The payload itself is not modified. */
        assert_null(json_object_get(frame_payload(&f), "id"));
        frame_done(&f);
}

/* A payload's bytes spliced with the bus's id are the object protocol_dump_job() prints, bare and
 * wrapped, whatever the spacing and the members the producer sent. */
static void test_splice_job(void **state) {
        static const char *const payloads[] = {
                "{\"priority\":3,\"runtime\":7}",
                "{ \"priority\" : 3 ,\n \"runtime\": 0.5, \"x\": [1, {\"id\": 9}], \"s\": \"\\u00e9\\n\" }",
                "{\"x\":1,\"x\":2,\"priority\":10,\"runtime\":1e2}",
        };

        for (size_t i = 0; i < ELEMENTSOF(payloads); i++)
                for (int wrapped = 0; wrapped <= 1; wrapped++) {
                        _cleanup_(json_decrefp) json_t *tree = NULL, *spliced = NULL, *dumped = NULL;
                        _cleanup_free_ char *text = NULL, *dump = NULL;
                        char prefix[PROTOCOL_SPLICE_PREFIX_MAX];
                        struct iovec parts[3];
                        size_t size, n = 0;

                        size = protocol_splice_job(payloads[i], strlen(payloads[i]), 123456789012, wrapped,
                                                   prefix, parts);
                        text = malloc(size);
                        assert_non_null(text);
                        for (size_t k = 0; k < 3; k++) {
                                memcpy(text + n, parts[k].iov_base, parts[k].iov_len);
                                n += parts[k].iov_len;
                        }
                        assert_int_equal(n, size);
                        spliced = json_loadb(text, size, 0, NULL);
                        assert_non_null(spliced);

                        tree = json_loads(payloads[i], 0, NULL);
                        assert_non_null(tree);
                        assert_int_equal(wrapped ? protocol_dump_job_wrapped(tree, 123456789012, &dump, NULL)
                                                 : protocol_dump_job(tree, 123456789012, &dump, NULL),
                                         0);
                        dumped = json_loads(dump, 0, NULL);
                        assert_non_null(dumped);
                        assert_true(json_equal(spliced, dumped));
                }
}

static void test_dump_job_overwrites_id(void **state) {
        static const char *const ids[] = { "7", "\"mine\"", "-1", "null", "{\"a\":1}" };
        char buf[256];
        Frame f;

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                _cleanup_free_ char *s = NULL;
                JobRequest jr;

                (void) snprintf(
                        buf, sizeof(buf),
                        "{\"cmd\":\"job_request\",\"payload\":{\"id\":%s,\"priority\":5,\"runtime\":3}}",
                        ids[i]);
                frame_ok(&f, buf);
                assert_int_equal(protocol_dump_job(frame_payload(&f), 1000 + i, &s, NULL), 0);
                assert_int_equal(job_request_parse(&jr, s, strlen(s), MAX_RUNTIME, NULL), 0);
                assert_true(jr.has_id);
                assert_int_equal(jr.id, 1000 + i);
                /* One "id" key, in the producer's place. */
                assert_ptr_equal(strstr(s, "\"id\""), s + 1);
                assert_null(strstr(s + 2, "\"id\""));
                frame_done(&f);
        }
}

static void test_dump_job_limits(void **state) {
        _cleanup_(json_decrefp) json_t *arr = json_array();
        _cleanup_(json_decrefp) json_t *obj = json_object();
        _cleanup_free_ char *s = NULL;
        JobRequest jr;

        assert_int_equal(protocol_dump_job(arr, 1, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job(NULL, 1, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job(obj, (uint64_t) INT64_MAX + 1, &s, NULL), -ERANGE);
        assert_int_equal(protocol_dump_job(obj, UINT64_MAX, &s, NULL), -ERANGE);

        assert_int_equal(json_object_set_new(obj, "priority", json_integer(0)), 0);
        assert_int_equal(json_object_set_new(obj, "runtime", json_real(0.25)), 0);
        assert_int_equal(protocol_dump_job(obj, INT64_MAX, &s, NULL), 0);
        assert_int_equal(job_request_parse(&jr, s, strlen(s), MAX_RUNTIME, NULL), 0);
        assert_int_equal(jr.id, INT64_MAX);
        assert_true(jr.runtime == 0.25);
}

static void test_dump_error(void **state) {
        for (ProtocolError e = 0; e < _PROTOCOL_ERROR_MAX; e++) {
                ProtocolStatus st = { .error = e };
                _cleanup_(json_decrefp) json_t *back = NULL;
                _cleanup_free_ char *s = NULL;
                size_t size;

                (void) snprintf(st.message, sizeof(st.message), "detail \"%d\"\n", e);
                assert_int_equal(protocol_dump_error(&st, NULL, &s, &size), 0);
                assert_int_equal(size, strlen(s));
                back = json_loads(s, 0, NULL);
                assert_true(json_is_object(back));
                assert_int_equal(json_object_size(back), 2);
                assert_string_equal(json_string_value(json_object_get(back, "error")),
                                    protocol_error_to_string(e));
                assert_string_equal(json_string_value(json_object_get(back, "message")), st.message);
                /* A client tells the codes apart by name only. */
                for (ProtocolError other = 0; other < e; other++)
                        assert_string_not_equal(protocol_error_to_string(other),
                                                protocol_error_to_string(e));
        }

        ProtocolStatus bad = { .error = _PROTOCOL_ERROR_MAX };
        char *s = NULL;
        assert_int_equal(protocol_dump_error(&bad, NULL, &s, NULL), -EINVAL);
        assert_null(s);
}

static void test_dump_error_from_parse(void **state) {
        _cleanup_free_ char *s = NULL;
        const char *in = "{\"cmd\":\"j\\u00f6b\\t\\\"\"}";
        ProtocolStatus st;
        Frame f;

        assert_int_equal(frame_parse(&f, in, strlen(in), MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(protocol_dump_error(&st, NULL, &s, NULL), 0);
        assert_string_equal(s,
                            "{\"error\":\"unknown_cmd\",\"message\":\"unknown command \\\"j??b?\\\"\\\"\"}");

        /* jansson's own error text quotes the offending bytes: they must not reach the frame raw. */
        free(s);
        s = NULL;
        assert_int_equal(frame_parse(&f, "\xff\xfe", 2, MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(st.error, PROTOCOL_INVALID_JSON);
        for (const char *p = st.message; *p; p++)
                assert_true(*p >= 0x20 && *p < 0x7f);
        assert_int_equal(protocol_dump_error(&st, NULL, &s, NULL), 0);
        assert_non_null(strstr(s, "\"error\":\"invalid_json\""));
}

static void test_dump_register(void **state) {
        _cleanup_free_ char *p = NULL, *s = NULL;
        char *bad = NULL;
        size_t size;
        Frame f;

        assert_int_equal(protocol_dump_register(ROLE_PRODUCER, &p, &size), 0);
        assert_string_equal(p, "{\"cmd\": \"register\", \"type\": \"producer\"}");
        assert_int_equal(size, strlen(p));
        assert_int_equal(protocol_dump_register(ROLE_SCHEDULER, &s, NULL), 0);
        assert_string_equal(s, "{\"cmd\": \"register\", \"type\": \"scheduler\"}");

        frame_ok(&f, s);
        assert_int_equal(f.command, COMMAND_REGISTER);
        assert_int_equal(f.role, ROLE_SCHEDULER);
        frame_done(&f);

        assert_int_equal(protocol_dump_register(_ROLE_MAX, &bad, NULL), -EINVAL);
        assert_int_equal(protocol_dump_register(_ROLE_INVALID, &bad, NULL), -EINVAL);
        assert_null(bad);
}

static void test_dump_job_request(void **state) {
        static const struct {
                int priority;
                double runtime;
                const char *text;
        } cases[] = {
                { 3, 7, "7" },
                { 0, 0, "0" },
                { 10, 15, "15" },
                { 5, 2.5, "2.5" },
                { 1, 0.1, "0.1" },
                { 1, 1e-05, "1e-05" },
                { 1, 1.0 / 3, "0.3333333333333333" },
                { 1, -0.0, "0" },
                { 1, 123456.789, "123456.789" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                char expected[160];
                size_t size;
                Frame f;

                assert_int_equal(protocol_dump_job_request(cases[i].priority, cases[i].runtime, &s, &size),
                                 0);
                (void) snprintf(
                        expected, sizeof(expected),
                        "{\"cmd\": \"job_request\", \"payload\": {\"priority\": %d, \"runtime\": %s}}",
                        cases[i].priority, cases[i].text);
                assert_string_equal(s, expected);
                assert_int_equal(size, strlen(s));

                assert_int_equal(frame_parse(&f, s, size, 1e6, NULL), 0);
                assert_int_equal(f.priority, cases[i].priority);
                assert_true(f.runtime == cases[i].runtime);
                frame_done(&f);
        }
}

static void test_dump_job_request_invalid(void **state) {
        char *s = NULL;

        assert_int_equal(protocol_dump_job_request(-1, 1, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job_request(11, 1, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job_request(1, -1, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job_request(1, NAN, &s, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job_request(1, INFINITY, &s, NULL), -EINVAL);
        assert_null(s);
}

static void test_job_request_parse(void **state) {
        const char *s;
        JobRequest jr;

        s = "{\"priority\":4,\"runtime\":3,\"id\":17,\"name\":\"x\"}";
        assert_int_equal(job_request_parse(&jr, s, strlen(s), MAX_RUNTIME, NULL), 0);
        assert_true(jr.has_id);
        assert_int_equal(jr.id, 17);
        assert_int_equal(jr.priority, 4);
        assert_true(jr.runtime == 3.0);

        /* The original Python bus sends no id. */
        s = "{\"priority\": 0, \"runtime\": 0.5}";
        assert_int_equal(job_request_parse(&jr, s, strlen(s), MAX_RUNTIME, NULL), 0);
        assert_false(jr.has_id);
        assert_int_equal(jr.priority, 0);
        assert_true(jr.runtime == 0.5);

        s = "{\"id\":0,\"priority\":10,\"runtime\":60}";
        assert_int_equal(job_request_parse(&jr, s, strlen(s), MAX_RUNTIME, NULL), 0);
        assert_true(jr.has_id);
        assert_int_equal(jr.id, 0);
}

static void test_job_request_parse_errors(void **state) {
        assert_int_equal(job_error(""), PROTOCOL_INVALID_JSON);
        assert_int_equal(job_error("{\"priority\":1,"), PROTOCOL_INVALID_JSON);
        assert_int_equal(job_error_n("{\"priority\":1,\"runtime\":1}", 25), PROTOCOL_INVALID_JSON);
        assert_int_equal(job_error_n("{\"priority\":1,\"runtime\":1}\0", 27), PROTOCOL_INVALID_JSON);
        assert_int_equal(job_error("{\"id\":18446744073709551615,\"priority\":1,\"runtime\":1}"),
                         PROTOCOL_INVALID_JSON);

        assert_int_equal(job_error("[{\"priority\":1,\"runtime\":1}]"), PROTOCOL_INVALID_PAYLOAD);
        assert_int_equal(job_error("7"), PROTOCOL_INVALID_PAYLOAD);
        assert_int_equal(job_error("{\"id\":-1,\"priority\":1,\"runtime\":1}"), PROTOCOL_INVALID_PAYLOAD);
        assert_int_equal(job_error("{\"id\":\"5\",\"priority\":1,\"runtime\":1}"), PROTOCOL_INVALID_PAYLOAD);
        assert_int_equal(job_error("{\"id\":1.5,\"priority\":1,\"runtime\":1}"), PROTOCOL_INVALID_PAYLOAD);
        assert_int_equal(job_error("{\"id\":null,\"priority\":1,\"runtime\":1}"), PROTOCOL_INVALID_PAYLOAD);

        assert_int_equal(job_error("{\"id\":1,\"priority\":1.0,\"runtime\":1}"), PROTOCOL_INVALID_PRIORITY);
        assert_int_equal(job_error("{\"id\":1,\"runtime\":1}"), PROTOCOL_INVALID_PRIORITY);
        assert_int_equal(job_error("{\"id\":1,\"priority\":1,\"runtime\":\"1\"}"), PROTOCOL_INVALID_RUNTIME);
        assert_int_equal(job_error("{\"id\":1,\"priority\":1,\"runtime\":1000}"), PROTOCOL_INVALID_RUNTIME);
        /* An error frame is not a job. */
        assert_int_equal(job_error("{\"error\":\"invalid_json\",\"message\":\"x\"}"),
                         PROTOCOL_INVALID_PRIORITY);
}

static void test_bus_round_trip(void **state) {
        _cleanup_free_ char *req = NULL, *job = NULL;
        JobRequest jr;
        Frame f;

        /* Producer -> bus -> scheduler, as the daemons chain the calls. */
        assert_int_equal(protocol_dump_job_request(6, 0.3, &req, NULL), 0);
        assert_int_equal(frame_parse(&f, req, strlen(req), MAX_RUNTIME, NULL), 0);
        assert_int_equal(protocol_dump_job(frame_payload(&f), 99, &job, NULL), 0);
        frame_done(&f);
        assert_int_equal(job_request_parse(&jr, job, strlen(job), MAX_RUNTIME, NULL), 0);
        assert_true(jr.has_id);
        assert_int_equal(jr.id, 99);
        assert_int_equal(jr.priority, 6);
        assert_true(jr.runtime == 0.3);
}

/* Version 2: registrations that opt in, refs, job events, status, jobs, cancel. */
static void test_register_v2(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"producer\",\"events\":true}");
        assert_int_equal(f.role, ROLE_PRODUCER);
        assert_true(f.events);
        frame_done(&f);
        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"observer\"}");
        assert_int_equal(f.role, ROLE_OBSERVER);
        frame_done(&f);
        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"host-1@5\",\"slots\":5}");
        assert_string_equal(f.name, "host-1@5");
        assert_int_equal(f.slots, 5);
        frame_done(&f);
        /* Version 1: no name, nothing reported. */
        frame_ok(&f, "{\"cmd\": \"register\", \"type\": \"scheduler\"}");
        assert_string_equal(f.name, "");
        frame_done(&f);

        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"producer\",\"events\":1}"),
                         PROTOCOL_INVALID_MESSAGE);
        assert_int_equal(
                frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a b\",\"slots\":1}"),
                PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(
                frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"\",\"slots\":1}"),
                PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(
                frame_error(
                        "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\\u001b\",\"slots\":1}"),
                PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\"}"),
                         PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"slots\":3}"),
                         PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(
                frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":0}"),
                PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(
                frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":65536}"),
                PROTOCOL_INVALID_SCHEDULER);
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":"
                                     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                                     "\"slots\":1}"),
                         PROTOCOL_INVALID_SCHEDULER); /* 65 characters */
        assert_int_equal(frame_error("{\"cmd\":\"register\",\"type\":\"watcher\"}"), PROTOCOL_INVALID_TYPE);
}

static void test_ref(void **state) {
        ProtocolStatus st = {};
        Frame f;
        const char *bad =
                "{\"cmd\":\"job_request\",\"payload\":{\"priority\":11,\"runtime\":1},\"ref\":\"x\"}";

        frame_ok(&f,
                 "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1},\"ref\":\"a\\\"b\"}");
        assert_string_equal(json_string_value(f.ref), "a\"b");
        frame_done(&f);
        frame_ok(&f, "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1},\"ref\":-7}");
        assert_int_equal(json_integer_value(f.ref), -7);
        frame_done(&f);
        assert_int_equal(
                frame_error(
                        "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1},\"ref\":[]}"),
                PROTOCOL_INVALID_REF);
        assert_int_equal(
                frame_error(
                        "{\"cmd\":\"job_request\",\"payload\":{\"priority\":1,\"runtime\":1},\"ref\":1.5}"),
                PROTOCOL_INVALID_REF);

        /* A rejected request keeps its ref, for the error frame to echo. */
        assert_int_equal(frame_parse(&f, bad, strlen(bad), MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(st.error, PROTOCOL_INVALID_PRIORITY);
        assert_string_equal(json_string_value(f.ref), "x");
        _cleanup_free_ char *text = NULL;
        assert_int_equal(protocol_dump_error(&st, f.ref, &text, NULL), 0);
        assert_non_null(strstr(text, ",\"ref\":\"x\"}"));
        frame_done(&f);
        assert_null(f.ref);
}

static void test_job_event(void **state) {
        Frame f;

        frame_ok(&f, "{\"cmd\":\"job_event\",\"id\":7,\"state\":\"failed\",\"exit_status\":3,\"cpu_usec\":9,"
                     "\"reason\":\"r\",\"extra\":[1,2]}");
        assert_int_equal(f.command, COMMAND_JOB_EVENT);
        assert_int_equal(f.n_events, 1);
        assert_int_equal(f.events_array[0].id, 7);
        assert_int_equal(f.events_array[0].state, JOB_FAILED);
        assert_int_equal(f.events_array[0].exit_status, 3);
        assert_int_equal(f.events_array[0].cpu_usec, 9);
        assert_true(f.events_array[0].memory_peak == UINT64_MAX);
        assert_string_equal(f.events_array[0].reason, "r");
        assert_null(f.events_array[0].signal);
        frame_done(&f);

        frame_ok(&f, "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"running\"},"
                     "{\"id\":1,\"state\":\"evicted\",\"evicted_by\":2,\"signal\":\"TERM\"}]}");
        assert_int_equal(f.n_events, 2);
        assert_int_equal(f.events_array[1].state, JOB_EVICTED);
        assert_int_equal(f.events_array[1].evicted_by, 2);
        assert_string_equal(f.events_array[1].signal, "TERM");
        frame_done(&f);

        static const char *const bad[] = {
                "{\"cmd\":\"job_event\",\"id\":-1,\"state\":\"done\"}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"sent\"}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"Done\"}",
                "{\"cmd\":\"job_event\",\"id\":1}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"exit_status\":256}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"signal\":\"kill\"}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"signal\":\"\"}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"cpu_usec\":-5}",
                "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"reason\":7}",
                "{\"cmd\":\"job_event\",\"events\":[]}",
                "{\"cmd\":\"job_event\",\"events\":{}}",
                "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"done\"},7]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(frame_error(bad[i]), PROTOCOL_INVALID_EVENT);
        /* A NUL inside a string is not JSON we take at all. */
        assert_int_equal(
                frame_error("{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"reason\":\"a\\u0000b\"}"),
                PROTOCOL_INVALID_JSON);

        /* The bound: PROTOCOL_EVENTS_MAX events and no more. */
        for (size_t n = PROTOCOL_EVENTS_MAX; n <= PROTOCOL_EVENTS_MAX + 1; n++) {
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *m = open_memstream(&text, &size);

                assert_non_null(m);
                fputs("{\"cmd\":\"job_event\",\"events\":[", m);
                for (size_t i = 0; i < n; i++)
                        fprintf(m, "%s{\"id\":%zu,\"state\":\"done\"}", i ? "," : "", i);
                fputs("]}", m);
                fclose(m);
                if (n == PROTOCOL_EVENTS_MAX) {
                        frame_ok(&f, text);
                        assert_int_equal(f.n_events, n);
                        frame_done(&f);
                } else
                        assert_int_equal(frame_error(text), PROTOCOL_INVALID_EVENT);
        }
}

static void test_dump_job_events(void **state) {
        ProtocolEvent ev[2] = { PROTOCOL_EVENT_INIT(5, JOB_RUNNING), PROTOCOL_EVENT_INIT(5, JOB_DONE) };
        _cleanup_free_ char *one = NULL, *two = NULL;
        Frame f;

        ev[1].exit_status = 0;
        ev[1].cpu_usec = 1000;
        ev[1].reason = "why \"not\"";
        assert_int_equal(protocol_dump_job_events(ev, 1, NULL, &one, NULL), 0);
        assert_string_equal(one, "{\"cmd\":\"job_event\",\"id\":5,\"state\":\"running\"}");
        assert_int_equal(protocol_dump_job_events(ev, 2, NULL, &two, NULL), 0);
        frame_ok(&f, two);
        assert_int_equal(f.n_events, 2);
        assert_int_equal(f.events_array[1].exit_status, 0);
        assert_int_equal(f.events_array[1].cpu_usec, 1000);
        assert_string_equal(f.events_array[1].reason, "why \"not\"");
        frame_done(&f);
        assert_int_equal(protocol_dump_job_events(ev, 0, NULL, &one, NULL), -EINVAL);
}

static void test_status_jobs_cancel(void **state) {
        _cleanup_free_ char *jobs = NULL, *cancel = NULL, *status = NULL;
        Frame f;

        assert_int_equal(protocol_dump_status_request(&status, NULL), 0);
        frame_ok(&f, status);
        assert_int_equal(f.command, COMMAND_STATUS);
        frame_done(&f);

        assert_int_equal(protocol_dump_jobs_request(PROTOCOL_STATE_SENT, "a@1", 5, &jobs, NULL), 0);
        frame_ok(&f, jobs);
        assert_int_equal(f.command, COMMAND_JOBS);
        assert_int_equal(f.state_filter, PROTOCOL_STATE_SENT);
        assert_string_equal(f.scheduler_filter, "a@1");
        assert_int_equal(f.limit, 5);
        frame_done(&f);
        frame_ok(&f, "{\"cmd\":\"jobs\"}");
        assert_int_equal(f.state_filter, -1);
        assert_null(f.scheduler_filter);
        assert_int_equal(f.limit, PROTOCOL_JOBS_LIMIT_DEFAULT);
        frame_done(&f);
        assert_int_equal(frame_error("{\"cmd\":\"jobs\",\"state\":\"lost\"}"), PROTOCOL_INVALID_FILTER);
        assert_int_equal(frame_error("{\"cmd\":\"jobs\",\"scheduler\":\"a b\"}"), PROTOCOL_INVALID_FILTER);
        assert_int_equal(frame_error("{\"cmd\":\"jobs\",\"limit\":0}"), PROTOCOL_INVALID_FILTER);
        assert_int_equal(frame_error("{\"cmd\":\"jobs\",\"limit\":10001}"), PROTOCOL_INVALID_FILTER);

        assert_int_equal(protocol_dump_cancel(42, &cancel, NULL), 0);
        frame_ok(&f, cancel);
        assert_int_equal(f.command, COMMAND_CANCEL);
        assert_int_equal(f.id, 42);
        frame_done(&f);
        assert_int_equal(frame_error("{\"cmd\":\"cancel\"}"), PROTOCOL_INVALID_ID);
        assert_int_equal(frame_error("{\"cmd\":\"cancel\",\"id\":\"42\"}"), PROTOCOL_INVALID_ID);
        assert_int_equal(frame_error("{\"cmd\":\"cancel\",\"id\":-1}"), PROTOCOL_INVALID_ID);
}

/* What a reporting scheduler gets: the three shapes, and what it refuses. */
static void test_bus_message(void **state) {
        static const char *const bad[] = {
                "{\"cmd\":\"jobb\",\"payload\":{\"priority\":1,\"runtime\":1}}",
                "{\"cmd\":\"job\",\"payload\":[]}",
                "{\"cmd\":\"job\"}",
                "{\"cmd\":\"cancel\",\"id\":-3}",
                "{\"cmd\":7}",
                "[1]",
        };
        _cleanup_(json_decrefp) json_t *payload =
                json_pack("{s:i, s:f, s:s}", "priority", 2, "runtime", 1.5, "x", "y");
        _cleanup_free_ char *wrapped = NULL;
        BusMessage m;

        assert_int_equal(protocol_dump_job_wrapped(payload, 9, &wrapped, NULL), 0);
        assert_int_equal(bus_message_parse(&m, wrapped, strlen(wrapped), MAX_RUNTIME, NULL), 0);
        assert_int_equal(m.kind, BUS_MESSAGE_JOB);
        assert_true(m.job.has_id && m.job.id == 9 && m.job.priority == 2 && m.job.runtime == 1.5);
        const char *bare = "{\"id\":3,\"priority\":0,\"runtime\":0}",
                   *cancel = "{\"cmd\":\"cancel\",\"id\":3}";
        assert_int_equal(bus_message_parse(&m, bare, strlen(bare), MAX_RUNTIME, NULL), 0);
        assert_true(m.kind == BUS_MESSAGE_JOB && m.job.id == 3);
        assert_int_equal(bus_message_parse(&m, cancel, strlen(cancel), MAX_RUNTIME, NULL), 0);
        assert_true(m.kind == BUS_MESSAGE_CANCEL && m.id == 3);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ProtocolStatus st = {};

                assert_int_equal(bus_message_parse(&m, bad[i], strlen(bad[i]), MAX_RUNTIME, &st), -EINVAL);
                assert_non_null(protocol_error_to_string(st.error));
        }
}

static void test_names_and_states(void **state) {
        assert_true(protocol_name_is_valid("a"));
        assert_true(protocol_name_is_valid("host.example.com@5"));
        assert_false(protocol_name_is_valid(""));
        assert_false(protocol_name_is_valid(NULL));
        assert_false(protocol_name_is_valid("a\"b"));
        assert_false(protocol_name_is_valid("é"));
        for (int s = 0; s <= PROTOCOL_STATE_SENT; s++)
                assert_int_equal(protocol_state_from_string(protocol_state_to_string(s)), s);
        assert_string_equal(protocol_state_to_string(PROTOCOL_STATE_SENT), "sent");
        assert_int_equal(protocol_state_from_string("unknown"), -EINVAL);
}

static void test_dump_v2_requests(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        Frame f;

        assert_int_equal(protocol_dump_register_events(&a, NULL), 0);
        frame_ok(&f, a);
        assert_true(f.role == ROLE_PRODUCER && f.events);
        frame_done(&f);
        assert_int_equal(protocol_dump_register_scheduler("s@2", 2, NULL, &b, NULL), 0);
        frame_ok(&f, b);
        assert_true(f.role == ROLE_SCHEDULER && f.slots == 2 && !f.has_load);
        frame_done(&f);
        assert_int_equal(protocol_dump_register_scheduler("s 2", 2, NULL, &c, NULL), -EINVAL);
        assert_int_equal(protocol_dump_job_request_ref(3, 0.25, "r\"1", &d, NULL), 0);
        frame_ok(&f, d);
        assert_true(f.priority == 3 && f.runtime == 0.25);
        assert_string_equal(json_string_value(f.ref), "r\"1");
        frame_done(&f);
}

/* The frame with "job_event" spelled with an escape, which the fast path is never tried on
 * (frame_parse() looks for the plain word first): the same frame for the jansson path alone. */
static char *jansson_only(const char *s) {
        const char *p = strstr(s, "job_event");
        char *t;

        assert_non_null(p);
        assert_true(asprintf(&t, "%.*sjob\\u005fevent%s", (int) (p - s), s, p + strlen("job_event")) > 0);
        return t;
}

static bool load_equal(const ProtocolLoad *a, const ProtocolLoad *b) {
        return a->running == b->running && a->waiting == b->waiting && a->received == b->received &&
               a->least_urgent == b->least_urgent;
}

/* A valid job_event frame read three ways: by the fast path itself, by frame_parse() (which takes the
 * fast path's result) and by the jansson path; all agree. Returns the jansson path's frame. */
static void job_event_ok(Frame *ret, const char *s) {
        _cleanup_free_ char *slow = jansson_only(s);
        Frame fast = { .command = _COMMAND_INVALID }, f;

        assert_int_equal(frame_parse_job_event_fast(&fast, s, strlen(s)), 1);
        frame_ok(&f, s);
        frame_ok(ret, slow);
        assert_int_equal(ret->command, COMMAND_JOB_EVENT);
        for (const Frame *x = &fast; x; x = x == &fast ? &f : NULL) {
                assert_int_equal(x->command, COMMAND_JOB_EVENT);
                assert_int_equal(x->n_events, ret->n_events);
                for (size_t i = 0; i < x->n_events; i++) {
                        assert_int_equal(x->events_array[i].id, ret->events_array[i].id);
                        assert_int_equal(x->events_array[i].state, ret->events_array[i].state);
                }
                assert_int_equal(x->has_load, ret->has_load);
                if (ret->has_load)
                        assert_true(load_equal(&x->load, &ret->load));
        }
        frame_done(&fast);
        frame_done(&f);
}

/* An invalid job_event frame: the fast path declines it, and both paths reject it as `expected`
 * with a detail that names the load when `about_load`. */
static void job_event_bad(const char *s, ProtocolError expected, bool about_load) {
        _cleanup_free_ char *slow = jansson_only(s);
        Frame fast = { .command = _COMMAND_INVALID };
        const char *texts[] = { s, slow };

        if (frame_parse_job_event_fast(&fast, s, strlen(s)) != 0)
                fail_msg("the fast path took %s", s);
        assert_int_equal(fast.command, _COMMAND_INVALID);
        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                ProtocolStatus st = {};
                Frame f;

                assert_int_equal(frame_parse(&f, texts[i], strlen(texts[i]), MAX_RUNTIME, &st), -EINVAL);
                assert_int_equal(st.error, expected);
                assert_false(f.has_load);
                if (about_load)
                        assert_non_null(strstr(st.message, "\"load\""));
                frame_done(&f);
        }
}

#define LOAD_2_3_9_4 "\"load\":{\"running\":2,\"waiting\":3,\"received\":9,\"least\":4}"

static void test_job_event_load(void **state) {
        const ProtocolLoad l2394 = { .running = 2, .waiting = 3, .received = 9, .least_urgent = 4 };
        Frame f;

        /* Both forms, with and without. */
        job_event_ok(&f, "{\"cmd\":\"job_event\",\"id\":7,\"state\":\"running\"," LOAD_2_3_9_4 "}");
        assert_int_equal(f.n_events, 1);
        assert_int_equal(f.events_array[0].id, 7);
        assert_true(f.has_load && load_equal(&f.load, &l2394));
        frame_done(&f);
        assert_false(f.has_load);

        job_event_ok(&f, "{\"cmd\":\"job_event\",\"id\":7,\"state\":\"running\"}");
        assert_false(f.has_load);
        frame_done(&f);

        job_event_ok(&f, "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"queued\"},"
                         "{\"id\":2,\"state\":\"done\"}]," LOAD_2_3_9_4 "}");
        assert_int_equal(f.n_events, 2);
        assert_true(f.has_load && load_equal(&f.load, &l2394));
        frame_done(&f);

        job_event_ok(&f, "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"queued\"}]}");
        assert_int_equal(f.n_events, 1);
        assert_false(f.has_load);
        frame_done(&f);

        /* The load alone; "least" left out is -1. */
        job_event_ok(&f, "{\"cmd\":\"job_event\",\"events\":[],"
                         "\"load\":{\"running\":0,\"waiting\":0,\"received\":0}}");
        assert_int_equal(f.n_events, 0);
        assert_null(f.events_array);
        assert_true(f.has_load && f.load.least_urgent == -1 && f.load.received == 0);
        frame_done(&f);

        /* Before "cmd", between the events, with members unknown today, the largest values, keys
         * spelled with escapes. */
        job_event_ok(&f, "{\"load\":{\"future\":[1,{\"x\":null}],\"running\":65535,\"waiting\":2147483647,"
                         "\"received\":9007199254740992,\"least\":10,\"more\":\"m\"},"
                         "\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\"}");
        assert_true(f.load.running == 65535 && f.load.waiting == 2147483647 &&
                    f.load.received == UINT64_C(9007199254740992) && f.load.least_urgent == 10);
        frame_done(&f);
        job_event_ok(&f, "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"queued\"}],"
                         "\"\\u006coad\":{\"r\\u0075nning\":1,\"waiting\":0,\"received\":1,\"least\":0},"
                         "\"x\":1}");
        assert_true(f.has_load && f.load.running == 1 && f.load.least_urgent == 0);
        frame_done(&f);

        /* A key given twice: the last one counts, as jansson reads it, for "load" and inside it. */
        job_event_ok(&f, "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"load\":7," LOAD_2_3_9_4 "}");
        assert_true(f.has_load && load_equal(&f.load, &l2394));
        frame_done(&f);
        job_event_ok(&f, "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"load\":{\"running\":-1,"
                         "\"waiting\":3,\"received\":9,\"least\":11,\"running\":2,\"least\":4}}");
        assert_true(f.has_load && load_equal(&f.load, &l2394));
        frame_done(&f);
        /* "events":[] then events: the last "events" counts, no load needed. */
        job_event_ok(&f,
                     "{\"cmd\":\"job_event\",\"events\":[],\"events\":[{\"id\":3,\"state\":\"running\"}]}");
        assert_int_equal(f.n_events, 1);
        frame_done(&f);
}

static void test_job_event_bad_load(void **state) {
        static const char *const values[] = {
                "null",
                "[]",
                "7",
                "\"x\"",
                "{}",
                "{\"waiting\":0,\"received\":0}",
                "{\"running\":0,\"received\":0}",
                "{\"running\":0,\"waiting\":0}",
                "{\"running\":-1,\"waiting\":0,\"received\":0}",
                "{\"running\":65536,\"waiting\":0,\"received\":0}",
                "{\"running\":1.0,\"waiting\":0,\"received\":0}",
                "{\"running\":\"1\",\"waiting\":0,\"received\":0}",
                "{\"running\":0,\"waiting\":2147483648,\"received\":0}",
                "{\"running\":0,\"waiting\":null,\"received\":0}",
                "{\"running\":0,\"waiting\":0,\"received\":9007199254740993}",
                "{\"running\":0,\"waiting\":0,\"received\":-1}",
                "{\"running\":0,\"waiting\":0,\"received\":0,\"least\":-1}",
                "{\"running\":0,\"waiting\":0,\"received\":0,\"least\":11}",
                "{\"running\":0,\"waiting\":0,\"received\":0,\"least\":null}",
                "{\"running\":0,\"waiting\":0,\"received\":0,\"least\":1.5}",
                "{\"running\":0,\"waiting\":0,\"received\":0,\"least\":[1]}",
                /* The last of a key counts. */
                "{\"running\":0,\"waiting\":0,\"received\":0,\"running\":{}}",
        };
        /* Each load between a head and a tail. */
        static const char *const forms[][2] = {
                { "{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\",\"load\":", "}" },
                { "{\"cmd\":\"job_event\",\"events\":[{\"id\":1,\"state\":\"done\"}],\"load\":", "}" },
                { "{\"cmd\":\"job_event\",\"events\":[],\"load\":", "}" },
                { "{\"load\":", ",\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\"}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(forms); i++)
                for (size_t k = 0; k < ELEMENTSOF(values); k++) {
                        char buf[256];

                        (void) snprintf(buf, sizeof buf, "%s%s%s", forms[i][0], values[k], forms[i][1]);
                        job_event_bad(buf, PROTOCOL_INVALID_EVENT, true);
                }

        /* A valid load and then an invalid one: the last counts. */
        job_event_bad("{\"cmd\":\"job_event\",\"id\":1,\"state\":\"done\"," LOAD_2_3_9_4 ",\"load\":{}}",
                      PROTOCOL_INVALID_EVENT, true);
        /* No events and no load; a good load does not make bad events good. */
        job_event_bad("{\"cmd\":\"job_event\",\"events\":[]}", PROTOCOL_INVALID_EVENT, false);
        job_event_bad("{\"cmd\":\"job_event\",\"events\":[],\"load\":{\"running\":0,\"waiting\":0,"
                      "\"received\":0},\"events\":{}}",
                      PROTOCOL_INVALID_EVENT, false);
        job_event_bad("{\"cmd\":\"job_event\",\"id\":1,\"state\":\"sent\"," LOAD_2_3_9_4 "}",
                      PROTOCOL_INVALID_EVENT, false);
        job_event_bad("{\"cmd\":\"job_event\",\"events\":[7]," LOAD_2_3_9_4 "}", PROTOCOL_INVALID_EVENT,
                      false);
}

/* Accepted as the load-only frame only when the last "events" is the empty one and a load came. */
static void test_job_event_load_only_last_events(void **state) {
        Frame f;

        job_event_ok(&f,
                     "{\"cmd\":\"job_event\",\"events\":[{\"id\":3,\"state\":\"running\"}],\"events\":[],"
                     "\"load\":{\"running\":1,\"waiting\":0,\"received\":1}}");
        assert_int_equal(f.n_events, 0);
        assert_true(f.has_load && f.load.running == 1);
        frame_done(&f);
}

static void test_register_load(void **state) {
        static const char *const bad[] = {
                "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":1,\"load\":null}",
                "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":1,\"load\":{}}",
                "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":1,\"load\":{"
                "\"running\":"
                "0,\"waiting\":0,\"received\":0,\"least\":11}}",
                "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a\",\"slots\":1,\"load\":{"
                "\"running\":"
                "0,\"waiting\":-2,\"received\":0}}",
        };
        ProtocolStatus st;
        Frame f;

        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a@1\",\"slots\":4,"
                     "\"load\":{\"running\":4,\"waiting\":1,\"received\":0,\"least\":7,\"x\":{}}}");
        assert_true(f.role == ROLE_SCHEDULER && f.slots == 4 && f.has_load);
        assert_true(f.load.running == 4 && f.load.waiting == 1 && f.load.received == 0 &&
                    f.load.least_urgent == 7);
        frame_done(&f);
        assert_false(f.has_load);

        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"a@1\",\"slots\":4}");
        assert_false(f.has_load);
        frame_done(&f);

        /* Only a scheduler that names itself tells its load: for others "load" is an unknown member. */
        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"producer\",\"load\":{}}");
        assert_false(f.has_load);
        frame_done(&f);
        frame_ok(&f, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"load\":7}");
        assert_true(f.role == ROLE_SCHEDULER && !f.name[0] && !f.has_load);
        frame_done(&f);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(frame_parse(&f, bad[i], strlen(bad[i]), MAX_RUNTIME, &st), -EINVAL);
                assert_int_equal(st.error, PROTOCOL_INVALID_SCHEDULER);
                assert_non_null(strstr(st.message, "\"load\""));
                assert_false(f.has_load);
                frame_done(&f);
        }
}

static void test_dump_load(void **state) {
        ProtocolEvent ev[2] = { PROTOCOL_EVENT_INIT(5, JOB_RUNNING), PROTOCOL_EVENT_INIT(6, JOB_QUEUED) };
        ProtocolLoad load = { .running = 1, .waiting = 1, .received = 2, .least_urgent = 3 };
        ProtocolLoad none = { .received = UINT64_C(9007199254740992), .least_urgent = -1 };
        _cleanup_free_ char *zero = NULL, *one = NULL, *two = NULL, *reg = NULL, *reg0 = NULL;
        char *fail = NULL;
        Frame f;

        assert_int_equal(protocol_dump_job_events(NULL, 0, &none, &zero, NULL), 0);
        assert_string_equal(zero, "{\"cmd\":\"job_event\",\"events\":[],"
                                  "\"load\":{\"running\":0,\"waiting\":0,\"received\":9007199254740992}}");
        job_event_ok(&f, zero);
        assert_true(f.n_events == 0 && f.has_load && load_equal(&f.load, &none));
        frame_done(&f);

        assert_int_equal(protocol_dump_job_events(ev, 1, &load, &one, NULL), 0);
        assert_string_equal(one, "{\"cmd\":\"job_event\",\"id\":5,\"state\":\"running\","
                                 "\"load\":{\"running\":1,\"waiting\":1,\"received\":2,\"least\":3}}");
        job_event_ok(&f, one);
        assert_true(f.n_events == 1 && f.has_load && load_equal(&f.load, &load));
        frame_done(&f);

        assert_int_equal(protocol_dump_job_events(ev, 2, &load, &two, NULL), 0);
        job_event_ok(&f, two);
        assert_true(f.n_events == 2 && f.events_array[1].id == 6 && f.has_load &&
                    load_equal(&f.load, &load));
        frame_done(&f);

        assert_int_equal(protocol_dump_register_scheduler("s@2", 2, &load, &reg, NULL), 0);
        assert_string_equal(reg, "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"s@2\",\"slots\":2,"
                                 "\"load\":{\"running\":1,\"waiting\":1,\"received\":2,\"least\":3}}");
        frame_ok(&f, reg);
        assert_true(f.has_load && load_equal(&f.load, &load));
        frame_done(&f);
        /* NULL: the frame as it always was. */
        assert_int_equal(protocol_dump_register_scheduler("s@2", 2, NULL, &reg0, NULL), 0);
        assert_string_equal(reg0,
                            "{\"cmd\":\"register\",\"type\":\"scheduler\",\"name\":\"s@2\",\"slots\":2}");

        /* What the parser would refuse is not written. */
        assert_int_equal(protocol_dump_job_events(NULL, 0, NULL, &fail, NULL), -EINVAL);
        for (int i = 0; i < 4; i++) {
                ProtocolLoad bad = load;

                if (i == 0)
                        bad.running = PROTOCOL_LOAD_RUNNING_MAX + 1;
                else if (i == 1)
                        bad.received = PROTOCOL_LOAD_RECEIVED_MAX + 1;
                else if (i == 2)
                        bad.least_urgent = PROTOCOL_PRIORITY_MAX + 1;
                else
                        bad.least_urgent = -2;
                assert_int_equal(protocol_dump_job_events(ev, 1, &bad, &fail, NULL), -EINVAL);
                assert_int_equal(protocol_dump_register_scheduler("s@2", 2, &bad, &fail, NULL), -EINVAL);
        }
        assert_null(fail);
}

/* A job the scheduler refuses, but with an id: it can still report it. */
static void test_bus_message_rejected_job(void **state) {
        const char *slow = "{\"cmd\":\"job\",\"payload\":{\"id\":5,\"priority\":1,\"runtime\":61}}",
                   *bad_priority = "{\"id\":6,\"priority\":12,\"runtime\":1}",
                   *bad_id = "{\"cmd\":\"job\",\"payload\":{\"id\":-5,\"priority\":1,\"runtime\":1}}",
                   *cancel = "{\"cmd\":\"cancel\",\"id\":\"x\"}";
        ProtocolStatus st = {};
        BusMessage m;

        assert_int_equal(bus_message_parse(&m, slow, strlen(slow), MAX_RUNTIME, &st), -EINVAL);
        assert_int_equal(st.error, PROTOCOL_INVALID_RUNTIME);
        assert_true(m.kind == BUS_MESSAGE_JOB && m.job.has_id && m.job.id == 5);
        assert_true(m.job.priority == 1 && m.job.runtime == -1);

        assert_int_equal(bus_message_parse(&m, bad_priority, strlen(bad_priority), MAX_RUNTIME, &st),
                         -EINVAL);
        assert_int_equal(st.error, PROTOCOL_INVALID_PRIORITY);
        assert_true(m.kind == BUS_MESSAGE_JOB && m.job.has_id && m.job.id == 6 && m.job.priority == -1);

        assert_int_equal(bus_message_parse(&m, bad_id, strlen(bad_id), MAX_RUNTIME, &st), -EINVAL);
        assert_false(m.job.has_id);
        assert_int_equal(bus_message_parse(&m, cancel, strlen(cancel), MAX_RUNTIME, &st), -EINVAL);
        assert_false(m.kind == BUS_MESSAGE_JOB && m.job.has_id);
        assert_int_equal(bus_message_parse(&m, "{", 1, MAX_RUNTIME, &st), -EINVAL);
        assert_false(m.job.has_id);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enum_tables),
                cmocka_unit_test(test_register),
                cmocka_unit_test(test_invalid_type),
                cmocka_unit_test(test_job_request),
                cmocka_unit_test(test_runtime_bounds),
                cmocka_unit_test(test_extra_fields_kept),
                cmocka_unit_test(test_invalid_json),
                cmocka_unit_test(test_invalid_message),
                cmocka_unit_test(test_unknown_cmd),
                cmocka_unit_test(test_invalid_payload),
                cmocka_unit_test(test_invalid_priority),
                cmocka_unit_test(test_invalid_runtime),
                cmocka_unit_test(test_huge_numbers),
                cmocka_unit_test(test_non_utf8),
                cmocka_unit_test(test_embedded_nul),
                cmocka_unit_test(test_not_nul_terminated),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_status_optional),
                cmocka_unit_test(test_dump_job),
                cmocka_unit_test(test_splice_job),
                cmocka_unit_test(test_dump_job_overwrites_id),
                cmocka_unit_test(test_dump_job_limits),
                cmocka_unit_test(test_dump_error),
                cmocka_unit_test(test_dump_error_from_parse),
                cmocka_unit_test(test_dump_register),
                cmocka_unit_test(test_dump_job_request),
                cmocka_unit_test(test_dump_job_request_invalid),
                cmocka_unit_test(test_job_request_parse),
                cmocka_unit_test(test_job_request_parse_errors),
                cmocka_unit_test(test_bus_round_trip),
                cmocka_unit_test(test_register_v2),
                cmocka_unit_test(test_ref),
                cmocka_unit_test(test_job_event),
                cmocka_unit_test(test_dump_job_events),
                cmocka_unit_test(test_status_jobs_cancel),
                cmocka_unit_test(test_bus_message),
                cmocka_unit_test(test_names_and_states),
                cmocka_unit_test(test_dump_v2_requests),
                cmocka_unit_test(test_job_event_load),
                cmocka_unit_test(test_job_event_bad_load),
                cmocka_unit_test(test_job_event_load_only_last_events),
                cmocka_unit_test(test_register_load),
                cmocka_unit_test(test_dump_load),
                cmocka_unit_test(test_bus_message_rejected_job),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
