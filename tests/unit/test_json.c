#include <string.h>

#include "check.h"
#include "json.h"

static value *parse(const char *s, error *e) { return json_parse(s, strlen(s), e); }

/* Parses s, expects failure with a message starting with want (e.g. "1:5: "). */
static int fails_at(const char *s, const char *want)
{
    error e = {{0}};
    value *v = parse(s, &e);
    if (v) {
        value_free(v);
        fprintf(stderr, "  parsed but should fail: %s\n", s);
        return 0;
    }
    if (strncmp(e.msg, want, strlen(want)) != 0) {
        fprintf(stderr, "  %s: got '%s', want prefix '%s'\n", s, e.msg, want);
        return 0;
    }
    return 1;
}

static void test_scalars(void)
{
    error e;
    value *v = parse(" 42 ", &e);
    CHECK(v && v->kind == VALUE_INT && v->i == 42);
    value_free(v);
    v = parse("-0", &e);
    CHECK(v && v->kind == VALUE_INT && v->i == 0);
    value_free(v);
    v = parse("-9223372036854775808", &e);
    CHECK(v && v->kind == VALUE_INT && v->i == INT64_MIN);
    value_free(v);
    CHECK(fails_at("9223372036854775808", "1:19: too big integer")); /* beyond int64 */
    v = parse("2.5e-3", &e);
    CHECK(v && v->kind == VALUE_FLOAT);
    CHECK_NEAR(v->f, 0.0025, 1e-15);
    value_free(v);
    v = parse("1E2", &e);
    CHECK(v && v->kind == VALUE_FLOAT && v->f == 100.0);
    value_free(v);
    v = parse("1.0", &e);
    CHECK(v && v->kind == VALUE_FLOAT && v->f == 1.0);
    value_free(v);
    v = parse("true", &e);
    CHECK(v && v->kind == VALUE_BOOL && v->b == 1);
    value_free(v);
    v = parse("false", &e);
    CHECK(v && v->kind == VALUE_BOOL && v->b == 0);
    value_free(v);
    v = parse("null", &e);
    CHECK(v && v->kind == VALUE_NIL);
    value_free(v);
}

static void test_strings_and_escapes(void)
{
    error e;
    value *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &e);
    CHECK(v && v->kind == VALUE_STR && strcmp(v->s, "a\"b\\c/d\b\f\n\r\t") == 0);
    value_free(v);
    v = parse("\"\\u0041\\u00e9\\u20AC\"", &e); /* A, e acute, euro sign */
    CHECK(v && strcmp(v->s, "A\xc3\xa9\xe2\x82\xac") == 0);
    value_free(v);
    v = parse("\"\\ud83d\\ude00\"", &e); /* U+1F600 as a surrogate pair */
    CHECK(v && strcmp(v->s, "\xf0\x9f\x98\x80") == 0);
    value_free(v);
    v = parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", &e); /* raw UTF-8 passes through */
    CHECK(v && strcmp(v->s, "caf\xc3\xa9 \xf0\x9f\x98\x80") == 0);
    value_free(v);
    v = parse("\"\"", &e);
    CHECK(v && v->kind == VALUE_STR && v->s[0] == '\0');
    value_free(v);
    /* a string longer than the first buffer */
    char big[2000];
    big[0] = '"';
    memset(big + 1, 'x', 1500);
    strcpy(big + 1501, "\"");
    v = parse(big, &e);
    CHECK(v && strlen(v->s) == 1500);
    value_free(v);
}

static void test_nesting(void)
{
    error e;
    const char *doc = "{\"method\": \"mlp\", \"labels\": 50, \"seed\": 0,\n"
                      " \"acc\": 0.869, \"per\": [{\"f1\": [1, 2, [3]]}, {}], \"empty\": [], \"n\": null}";
    value *v = parse(doc, &e);
    CHECK(v && v->kind == VALUE_MAP && v->n == 7);
    CHECK(strcmp(v->keys[0], "method") == 0 && strcmp(v->keys[6], "n") == 0); /* order kept */
    CHECK(strcmp(value_get_str(v, "method", ""), "mlp") == 0);
    CHECK(value_get(v, "labels")->kind == VALUE_INT && value_get(v, "labels")->i == 50);
    CHECK_NEAR(value_get_num(v, "acc", 0), 0.869, 1e-12);
    const value *per = value_get(v, "per");
    CHECK(per && per->kind == VALUE_ARRAY && per->n == 2);
    const value *f1 = value_get(per->items[0], "f1");
    CHECK(f1 && f1->n == 3 && f1->items[2]->kind == VALUE_ARRAY && f1->items[2]->items[0]->i == 3);
    CHECK(per->items[1]->kind == VALUE_MAP && per->items[1]->n == 0);
    CHECK(value_get(v, "empty")->n == 0);
    value_free(v);

    v = parse("{\"a\": 1, \"a\": 2}", &e); /* repeated key: the last wins */
    CHECK(v && v->n == 1 && value_get(v, "a")->i == 2);
    value_free(v);

    enum { DEPTH = 1000 };   /* deep, but within the parser's limit */
    char deep[2 * DEPTH + 1];
    memset(deep, '[', DEPTH);
    memset(deep + DEPTH, ']', DEPTH);
    deep[2 * DEPTH] = '\0';
    v = parse(deep, &e);
    CHECK(v != NULL);
    value_free(v);
}

static void test_not_nul_terminated(void)
{
    error e;
    const char buf[] = {'[', '1', '2', ']', '9'};
    value *v = json_parse(buf, 4, &e);
    CHECK(v && v->n == 1 && v->items[0]->i == 12);
    value_free(v);
    v = json_parse(buf + 1, 2, &e); /* "12" with a digit right after the given length */
    CHECK(v && v->i == 12);
    value_free(v);
}

/* Every error names its line and column (characters, from 1). */
static void test_errors_and_positions(void)
{
    CHECK(fails_at("", "1:1: "));
    CHECK(fails_at("   \n  ", "2:2: "));
    CHECK(fails_at("{\"a\" 1}", "1:6: ':' expected"));
    CHECK(fails_at("{\"a\": 1,}", "1:9: string or '}' expected"));
    CHECK(fails_at("[1, 2,]", "1:7: "));
    CHECK(fails_at("[1 2]", "1:4: ']' expected"));
    CHECK(fails_at("{\"a\": 1\n \"b\": 2}", "2:4: '}' expected"));
    CHECK(fails_at("01", "1:1: invalid token"));
    CHECK(fails_at("1.", "1:2: invalid token"));
    CHECK(fails_at("+1", "1:1: invalid token"));
    CHECK(fails_at("NaN", "1:3: invalid token"));
    CHECK(fails_at("1 2", "1:3: end of file expected"));
    CHECK(fails_at("{} x", "1:4: end of file expected"));
    CHECK(fails_at("\"abc", "1:4: premature end of input"));
    CHECK(fails_at("\"a\tb\"", "1:2: control character"));
    CHECK(fails_at("\"a\\qb\"", "1:4: invalid escape"));
    CHECK(fails_at("\"\\u12G4\"", "1:6: invalid escape"));
    CHECK(fails_at("\"\\ud83d\"", "1:8: invalid Unicode"));   /* a high surrogate alone */
    CHECK(fails_at("\"\\ude00\"", "1:8: invalid Unicode"));   /* a low surrogate alone */
    CHECK(fails_at("\"\\u0000\"", "1:8: \\u0000 is not allowed"));
    CHECK(fails_at("\"\xff\"", "1:1: unable to decode byte 0xff"));
    CHECK(fails_at("\"\xc0\x80\"", "1:1: unable to decode"));     /* overlong NUL */
    CHECK(fails_at("\"\xed\xa0\x80\"", "1:1: unable to decode")); /* encoded surrogate */
    CHECK(fails_at("\"\xe2\x82\"", "1:1: unable to decode"));     /* cut sequence */
    /* columns count characters, not bytes: e acute is one column */
    CHECK(fails_at("[\"\xc3\xa9\" x]", "1:6: ']' expected"));
    CHECK(fails_at("\xef\xbb\xbf{}", "1:1: invalid token")); /* a BOM is not JSON */
}

int main(void)
{
    RUN(test_scalars);
    RUN(test_strings_and_escapes);
    RUN(test_nesting);
    RUN(test_not_nul_terminated);
    RUN(test_errors_and_positions);
    return check_summary();
}
