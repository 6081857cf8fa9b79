/* csvread: libcsv edge cases, with the line numbers kept for messages. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "csvread.h"
#include "gzfile.h"

static csvread_doc *parse(const char *text, error *e)
{
    csvread_opts o = csvread_defaults();
    return csvread_parse(text, strlen(text), "t.csv", &o, e);
}

static int field_is(const csvread_doc *d, size_t r, size_t c, const char *want)
{
    return r < d->nrows && c < csvread_row_len(d, r) && strcmp(csvread_field(d, r, c), want) == 0;
}

static void test_plain_rows(void)
{
    error e = {0};
    csvread_doc *d = parse("a,b,c\n1,2,3\n", &e);
    CHECK(d && d->nrows == 2);
    CHECK(csvread_row_len(d, 0) == 3 && csvread_row_len(d, 1) == 3);
    CHECK(field_is(d, 0, 0, "a") && field_is(d, 1, 2, "3"));
    CHECK(d->row_line[0] == 1 && d->row_line[1] == 2);
    csvread_free(d);
}

static void test_quotes_with_delimiters_and_newlines(void)
{
    error e = {0};
    csvread_doc *d = parse("x,\"a,b\",\"say \"\"hi\"\"\"\n\"multi\nline\",2,3\nlast,1,2\n", &e);
    CHECK(d && d->nrows == 3);
    CHECK(field_is(d, 0, 1, "a,b"));
    CHECK(field_is(d, 0, 2, "say \"hi\""));
    CHECK(field_is(d, 1, 0, "multi\nline"));
    /* the record with the embedded newline starts on line 2, the next one on line 4 */
    CHECK(d->row_line[1] == 2 && d->row_line[2] == 4);
    csvread_free(d);
}

static void test_crlf_bom_blank_lines(void)
{
    error e = {0};
    csvread_doc *d = parse("\xEF\xBB\xBFh1,h2\r\n1,2\r\n\r\n3,4", &e);
    CHECK(d && d->nrows == 3);
    CHECK(field_is(d, 0, 0, "h1") && field_is(d, 0, 1, "h2"));
    CHECK(field_is(d, 1, 1, "2") && field_is(d, 2, 1, "4"));
    CHECK(d->row_line[2] == 4);
    csvread_free(d);
}

static void test_skip_lines(void)
{
    error e = {0};
    csvread_opts o = csvread_defaults();
    o.skip = 2;
    const char *text = "# comment with \"odd quote\n# another\na,b\n1,2\n";
    csvread_doc *d = csvread_parse(text, strlen(text), "t.csv", &o, &e);
    CHECK(d && d->nrows == 2);
    CHECK(field_is(d, 0, 0, "a") && d->row_line[0] == 3 && d->row_line[1] == 4);
    csvread_free(d);
}

static void test_ragged_rows_are_kept(void)
{
    error e = {0};
    csvread_doc *d = parse("1,2,3\n4,5\n", &e);
    CHECK(d && csvread_row_len(d, 0) == 3 && csvread_row_len(d, 1) == 2);
    csvread_free(d);
}

static void test_unterminated_quote(void)
{
    error e = {0};
    csvread_doc *d = parse("1,2\n3,\"open\n4,5\n", &e);
    CHECK(d == NULL);
    CHECK(strstr(e.msg, "t.csv:2:") != NULL);
    CHECK(strstr(e.msg, "unterminated") != NULL);
}

static void test_strict_quote_error(void)
{
    error e = {0};
    csvread_doc *d = parse("1,2\n3,\"a\"b\n", &e);
    CHECK(d == NULL);
    CHECK(strncmp(e.msg, "t.csv:2:", 8) == 0);
}

static void test_tab_delimiter_and_empty_fields(void)
{
    error e = {0};
    unsigned char delim;
    CHECK(csvread_parse_delim("tab", &delim) == 0 && delim == '\t');
    CHECK(csvread_parse_delim("\\t", &delim) == 0 && delim == '\t');
    CHECK(csvread_parse_delim(";;", &delim) == -1);
    csvread_opts o = csvread_defaults();
    o.delim = '\t';
    const char *text = "a b\t\t3\n";
    csvread_doc *d = csvread_parse(text, strlen(text), "t.tsv", &o, &e);
    CHECK(d && csvread_row_len(d, 0) == 3);
    CHECK(field_is(d, 0, 0, "a b") && field_is(d, 0, 1, ""));
    csvread_free(d);
}

static void test_empty_input(void)
{
    error e = {0};
    csvread_doc *d = parse("", &e);
    CHECK(d && d->nrows == 0);
    csvread_free(d);
}

static void test_gzip_transparent(void)
{
    const char *text = "1,2\n3,4\n";
    char path[] = "/tmp/test_csvreadXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    gzFile gz = gzdopen(fd, "wb");
    gzwrite(gz, text, (unsigned)strlen(text));
    gzclose(gz);
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t len;
    error e = {0};
    CHECK(gzfile_read_all(f, path, &buf, &len, &e) == 0);
    CHECK(len == strlen(text) && memcmp(buf, text, len) == 0);
    free(buf);
    fclose(f);
    /* cut the gzip file short: an error, not a silent short read */
    f = fopen(path, "rb");
    char raw[256];
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(raw, 1, n - 6, f);
    fclose(f);
    f = fopen(path, "rb");
    CHECK(gzfile_read_all(f, path, &buf, &len, &e) == -1);
    fclose(f);
    unlink(path);
}

int main(void)
{
    RUN(test_plain_rows);
    RUN(test_quotes_with_delimiters_and_newlines);
    RUN(test_crlf_bom_blank_lines);
    RUN(test_skip_lines);
    RUN(test_ragged_rows_are_kept);
    RUN(test_unterminated_quote);
    RUN(test_strict_quote_error);
    RUN(test_tab_delimiter_and_empty_fields);
    RUN(test_empty_input);
    RUN(test_gzip_transparent);
    return check_summary();
}
