/*  Unit tests of cli_json's text output: what a peer sends can never break
    the JSON or the HTML it is written into.
*/
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"

//  What `write` puts out for `text`, NUL-terminated; the caller frees it.
static char *
s_output (void (*write) (FILE *, const char *, size_t), const char *text, size_t len)
{
    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&data, &size);
    cr_assert_not_null (out);
    write (out, text, len);
    cr_assert_eq (fclose (out), 0);
    return data;
}

Test (json, html_text_escapes_markup_and_quotes)
{
    const char *markup = "<b a=\"x\" c='y'>&amp;</b>";
    char *html = s_output (cli_html_print_text, markup, strlen (markup));
    cr_expect_str_eq (html, "&lt;b a=&quot;x&quot; c=&#39;y&#39;&gt;&amp;amp;&lt;/b&gt;");
    free (html);
}

Test (json, html_text_turns_control_and_invalid_utf8_into_replacement_characters)
{
    //  A NUL, an escape, a lone continuation byte, an overlong '/', a
    //  surrogate and a sequence cut short; the euro sign is valid and stays.
    static const char bad[] = "a\x00\x1b\x80\xc0\xaf\xed\xa0\x80\xe2\x82\xac\xe2\x82";
    char *html = s_output (cli_html_print_text, bad, sizeof bad - 1);
    cr_expect_str_eq (html, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd"
                            "\xef\xbf\xbd");
    free (html);
}

Test (json, json_text_escapes_quotes_backslashes_and_control_bytes)
{
    char *json = s_output (cli_json_print_text, "\"\\\n\x7f\xff<", 6);
    cr_expect_str_eq (json, "\\\"\\\\\\u000a\\u007f\\ufffd<");
    free (json);
}

Test (json, a_value_that_is_not_a_string_is_shown_as_escaped_json)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "<k>", 3);
    msgpack_pack_int (&pk, 7);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    cr_assert_eq (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, NULL),
                  MSGPACK_UNPACK_SUCCESS);
    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&data, &size);
    cli_html_print (out, &unpacked.data);
    cli_html_print (out, NULL);
    fclose (out);
    cr_expect_str_eq (data, "{&quot;&lt;k&gt;&quot;: 7}");
    free (data);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
}
