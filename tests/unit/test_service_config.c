/*
 * test_service_config.c — settings (DESIGN §4): defaults, .env parsing, environment
 * over .env, validation of every variable with messages naming it, model name
 * resolution, unknown WHISPER_* / MDC_* names.
 */
#include <unistd.h>

#include "testutil.h"

#include "service/config.h"

static const char *const k_all[] = {
    "HOST", "PORT", "WHISPER_MODEL", "WHISPER_MODELS_DIR", "WHISPER_PRELOAD",
    "WHISPER_IDLE_UNLOAD_SECONDS", "WHISPER_THREADS", "WHISPER_LOAD_RETRY_MS",
    "MAX_CONCURRENT_TRANSCRIPTIONS", "QUEUE_LENGTH", "MAX_UPLOAD_MB", "MAX_AUDIO_SECONDS",
    "REQUEST_TIMEOUT_SECONDS", "API_KEY", "REPORT_LOCALE", "LOG_FORMAT", "LOG_LEVEL",
    "MDC_TEST_LOAD_DELAY_MS", "MDC_ENV_FILE", "WEB_DIR", "WHISPER_PRELAOD", "MDC_BOGUS",
    "WHISPER_ALLOW_OVERSUBSCRIBE"};

static char g_dir[256], g_cwd[1024], g_env[512];
static char g_tmpdir_saved[1024];
static int g_had_tmpdir;

static void write_env(const char *text)
{
    FILE *f = fopen(g_env, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    setenv("MDC_ENV_FILE", g_env, 1);
}

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof k_all / sizeof k_all[0]; i++)
        unsetenv(k_all[i]);
    const char *t = getenv("TMPDIR");
    g_had_tmpdir = t != NULL;
    if (t)
        snprintf(g_tmpdir_saved, sizeof g_tmpdir_saved, "%s", t);
    unsetenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "/tmp/mdc-config-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_non_null(getcwd(g_cwd, sizeof g_cwd));
    assert_int_equal(chdir(g_dir), 0); /* no stray ./.env */
    snprintf(g_env, sizeof g_env, "%s/test.env", g_dir);
    return 0;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < sizeof k_all / sizeof k_all[0]; i++)
        unsetenv(k_all[i]);
    if (g_had_tmpdir)
        setenv("TMPDIR", g_tmpdir_saved, 1);
    unlink(g_env);
    char p[600];
    snprintf(p, sizeof p, "%s/.env", g_dir);
    unlink(p);
    assert_int_equal(chdir(g_cwd), 0);
    rmdir(g_dir);
    return 0;
}

/* Loads and expects failure with a message containing every needle. */
static void expect_fail(const char *n1, const char *n2)
{
    svc_config c;
    char err[1024] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), -1);
    print_message("  message: %s\n", err);
    assert_non_null(strstr(err, n1));
    if (n2)
        assert_non_null(strstr(err, n2));
}

static void expect_env_fail(const char *var, const char *value, const char *accepted)
{
    setenv(var, value, 1);
    expect_fail(var, accepted);
    unsetenv(var);
}

static void test_defaults(void **state)
{
    svc_config c;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.model, "base");
    assert_string_equal(c.models_dir, "models");
    assert_string_equal(c.model_path, "models/ggml-base.bin");
    assert_false(c.preload);
    assert_int_equal(c.idle_unload_seconds, 0);
    assert_true(c.threads >= 1);
    assert_int_equal(c.threads, svc_config_default_threads());
    assert_int_equal(c.max_concurrent, 1);
    assert_int_equal(c.queue_length, 8);
    assert_true(c.max_upload_bytes == 200ull * 1024 * 1024);
    assert_true(c.max_audio_seconds == 10800);
    assert_int_equal(c.request_timeout_seconds, 3600);
    assert_string_equal(c.api_key, "");
    assert_int_equal(c.report_locale, RPT_LOCALE_PT_BR);
    assert_false(c.log_json);
    assert_int_equal(c.log_level, MDC_LOG_INFO);
    assert_string_equal(c.web_dir, "");
    assert_string_equal(c.env_file, "");
    assert_true(c.load_delay_ms == 0);
    assert_int_equal(c.load_retry_backoff_ms, 2000);
    assert_string_equal(c.tmp_dir, "/tmp");
}

static void test_env_values(void **state)
{
    setenv("PORT", "0", 1);
    setenv("HOST", "127.0.0.1", 1);
    setenv("WHISPER_MODEL", "tiny", 1);
    setenv("WHISPER_MODELS_DIR", "/models/", 1);
    setenv("WHISPER_PRELOAD", "yes", 1);
    setenv("WHISPER_IDLE_UNLOAD_SECONDS", "300", 1);
    setenv("WHISPER_THREADS", "3", 1);
    setenv("MAX_CONCURRENT_TRANSCRIPTIONS", "2", 1);
    setenv("WHISPER_ALLOW_OVERSUBSCRIBE", "true", 1); /* 6 threads, whatever the cores */
    setenv("QUEUE_LENGTH", "0", 1);
    setenv("MAX_UPLOAD_MB", "10", 1);
    setenv("MAX_AUDIO_SECONDS", "90.5", 1);
    setenv("REQUEST_TIMEOUT_SECONDS", "60", 1);
    setenv("API_KEY", "s3cret-token", 1);
    setenv("REPORT_LOCALE", "en", 1);
    setenv("LOG_FORMAT", "JSON", 1);
    setenv("LOG_LEVEL", "Debug", 1);
    setenv("MDC_TEST_LOAD_DELAY_MS", "300", 1);
    setenv("WHISPER_LOAD_RETRY_MS", "50", 1);
    setenv("TMPDIR", g_dir, 1);
    svc_config c;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_string_equal(c.model_path, "/models/ggml-tiny.bin");
    assert_true(c.preload);
    assert_int_equal(c.idle_unload_seconds, 300);
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.max_concurrent, 2);
    assert_int_equal(c.queue_length, 0);
    assert_true(c.max_upload_bytes == 10ull * 1024 * 1024);
    assert_true(c.max_audio_seconds == 90.5);
    assert_int_equal(c.request_timeout_seconds, 60);
    assert_string_equal(c.api_key, "s3cret-token");
    assert_int_equal(c.report_locale, RPT_LOCALE_EN);
    assert_true(c.log_json);
    assert_int_equal(c.log_level, MDC_LOG_DEBUG);
    assert_true(c.load_delay_ms == 300);
    assert_int_equal(c.load_retry_backoff_ms, 50);
    assert_string_equal(c.tmp_dir, g_dir);
    char ctx[256];
    svc_config_model_context(&c, ctx, sizeof ctx);
    assert_string_equal(ctx, "WHISPER_MODEL=tiny, WHISPER_MODELS_DIR=/models/");
    assert_string_equal(svc_config_model_label(&c), "tiny");
}

static void test_model_names_and_paths(void **state)
{
    const char *good[] = {"tiny", "tiny.en", "base", "base.en", "small", "small.en-q5_1",
                          "medium", "medium.en", "large-v1", "large-v2", "large-v3",
                          "large-v3-turbo", "large-v3-turbo-q8_0", "large-v3-turbo-q5_0",
                          "base-q5_1", "tiny-q8_0", "medium-q5_0", "large-v2-q5_0",
                          "tiny.en-q5_1", "medium.en-q5_0", "large-v2-q8_0", "base-q4_0",
                          "large-v3-q4_1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(svc_config_model_name_valid(good[i]));
    const char *bad[] = {"", "huge", "Base", "base.fr", "large", "large-v3.en", "base-q9_9",
                         "base.en.en", "tiny-", "base q5_1", "base-q6_k", "tiny-q2_k",
                         "small.en-tdrz", "base-q5_1-q5_1", "base-f16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(svc_config_model_name_valid(bad[i]));

    /* every name scripts/get-model.sh downloads (whisper.cpp's published list) is one the
     * settings accept, so `make run` never fetches a model `serve` then refuses */
    size_t len = 0;
    char spath[1200];
    snprintf(spath, sizeof spath, "%s/scripts/get-model.sh", g_cwd); /* setup chdir'd away */
    char *script = tu_read_file(spath, &len);
    assert_non_null(script);
    char *p = strstr(script, "MODELS=\"");
    assert_non_null(p);
    p += strlen("MODELS=\"");
    char *end = strchr(p, '"');
    assert_non_null(end);
    *end = '\0';
    int n_names = 0;
    for (char *tok = p; *tok;) {
        size_t k = strcspn(tok, " \n");
        if (k) {
            char name[64];
            assert_true(k < sizeof name);
            memcpy(name, tok, k);
            name[k] = '\0';
            if (!svc_config_model_name_valid(name))
                fail_msg("get-model.sh publishes \"%s\", which WHISPER_MODEL refuses", name);
            n_names++;
        }
        tok += k;
        tok += strspn(tok, " \n");
    }
    print_message("%d published model names, all accepted\n", n_names);
    assert_true(n_names >= 29);
    free(script);

    char out[256];
    svc_config_resolve_model("small.en", "/srv/m", out, sizeof out);
    assert_string_equal(out, "/srv/m/ggml-small.en.bin");
    svc_config_resolve_model("/abs/x.bin", "/srv/m", out, sizeof out);
    assert_string_equal(out, "/abs/x.bin");
    svc_config_resolve_model("rel/dir/model", "/srv/m", out, sizeof out);
    assert_string_equal(out, "rel/dir/model");
    svc_config_resolve_model("custom.bin", "/srv/m", out, sizeof out);
    assert_string_equal(out, "custom.bin");

    /* a path is used as given, even if it does not look like a model name */
    setenv("WHISPER_MODEL", "/opt/models/my-finetune.bin", 1);
    svc_config c;
    char err[512];
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.model_path, "/opt/models/my-finetune.bin");
    assert_string_equal(svc_config_model_label(&c), "my-finetune.bin");
    char ctx[256];
    svc_config_model_context(&c, ctx, sizeof ctx);
    assert_string_equal(ctx, "WHISPER_MODEL=/opt/models/my-finetune.bin");

    expect_env_fail("WHISPER_MODEL", "huge", "tiny|base|small|medium");
    expect_env_fail("WHISPER_MODEL", "", "must not be empty");
}

static void test_every_variable_validated(void **state)
{
    expect_env_fail("PORT", "abc", "from 0 to 65535");
    expect_env_fail("PORT", "65536", "from 0 to 65535");
    expect_env_fail("PORT", "80x", "integer");
    expect_env_fail("PORT", "", "integer");
    expect_env_fail("HOST", "", "empty");
    expect_env_fail("HOST", "a b", "without spaces");
    expect_env_fail("WHISPER_PRELOAD", "maybe", "true|false|1|0|yes|no");
    expect_env_fail("WHISPER_IDLE_UNLOAD_SECONDS", "-1", "integer");
    expect_env_fail("WHISPER_THREADS", "many", "0 for the available cores");
    expect_env_fail("WHISPER_THREADS", "-2", "integer");
    expect_env_fail("WHISPER_LOAD_RETRY_MS", "1.5", "integer");
    expect_env_fail("MAX_CONCURRENT_TRANSCRIPTIONS", "0", "from 1 to");
    expect_env_fail("QUEUE_LENGTH", "-1", "integer");
    expect_env_fail("MAX_UPLOAD_MB", "0", "from 1 to");
    expect_env_fail("MAX_AUDIO_SECONDS", "0", "greater than 0");
    expect_env_fail("MAX_AUDIO_SECONDS", "nan", "number");
    expect_env_fail("REQUEST_TIMEOUT_SECONDS", "0", "from 1 to");
    expect_env_fail("API_KEY", "has space", "without spaces");
    expect_env_fail("REPORT_LOCALE", "fr", "pt-BR|en");
    expect_env_fail("LOG_FORMAT", "xml", "text|json");
    expect_env_fail("LOG_LEVEL", "verbose", "debug|info|warn|error");
    expect_env_fail("MDC_TEST_LOAD_DELAY_MS", "-5", "number");
    expect_env_fail("TMPDIR", "", "empty");

    /* booleans in every accepted spelling */
    const char *t[] = {"true", "1", "yes", "TRUE", "on"}, *f[] = {"false", "0", "no", "No", "off"};
    for (size_t i = 0; i < 5; i++) {
        svc_config c;
        char err[256];
        setenv("WHISPER_PRELOAD", t[i], 1);
        assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
        assert_true(c.preload);
        setenv("WHISPER_PRELOAD", f[i], 1);
        assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
        assert_false(c.preload);
    }
    unsetenv("WHISPER_PRELOAD");
    /* WHISPER_THREADS=0 means the available cores */
    setenv("WHISPER_THREADS", "0", 1);
    svc_config c;
    char err[256];
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.threads, svc_config_default_threads());
    /* with several transcriptions at once, 0 is each one's share of the cores */
    assert_int_equal(svc_config_threads_per_worker(0, 2, 8), 4);
    assert_int_equal(svc_config_threads_per_worker(0, 3, 8), 2);
    assert_int_equal(svc_config_threads_per_worker(0, 4, 2), 1);
    assert_int_equal(svc_config_threads_per_worker(5, 4, 2), 5);
    setenv("MAX_CONCURRENT_TRANSCRIPTIONS", "2", 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.threads, svc_config_threads_per_worker(0, 2, svc_config_default_threads()));
    /* oversubscription is refused, naming both settings and the way out, unless allowed */
    char num[32];
    snprintf(num, sizeof num, "%d", svc_config_default_threads());
    setenv("WHISPER_THREADS", num, 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "WHISPER_THREADS"));
    assert_non_null(strstr(err, "MAX_CONCURRENT_TRANSCRIPTIONS=2"));
    assert_non_null(strstr(err, "WHISPER_ALLOW_OVERSUBSCRIBE=true"));
    setenv("WHISPER_ALLOW_OVERSUBSCRIBE", "true", 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.threads * c.max_concurrent, 2 * svc_config_default_threads());
    svc_config o = c;
    o.allow_oversubscribe = false;
    assert_int_equal(svc_config_check_oversubscribe(&o, 2 * c.threads, NULL, 0), 0);
    assert_int_equal(svc_config_check_oversubscribe(&o, 2 * c.threads - 1, NULL, 0), -1);
    unsetenv("WHISPER_ALLOW_OVERSUBSCRIBE");
    unsetenv("MAX_CONCURRENT_TRANSCRIPTIONS");
    unsetenv("WHISPER_THREADS");
    /* pt and pt_BR are spellings of pt-BR */
    setenv("REPORT_LOCALE", "pt_br", 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.report_locale, RPT_LOCALE_PT_BR);
}

static void test_unknown_names_reported(void **state)
{
    setenv("WHISPER_PRELAOD", "true", 1);
    expect_fail("unknown setting WHISPER_PRELAOD", "WHISPER_PRELOAD");
    unsetenv("WHISPER_PRELAOD");
    setenv("MDC_BOGUS", "1", 1);
    expect_fail("MDC_BOGUS", "known:");
    unsetenv("MDC_BOGUS");
    /* the test harness's own variables and MDC_TEST_* are not ours to reject */
    setenv("MDC_SHARED_DIR", getenv("MDC_SHARED_DIR") ? getenv("MDC_SHARED_DIR") : "/x", 1);
    setenv("MDC_TEST_SOMETHING_ELSE", "1", 1);
    svc_config c;
    char err[512];
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    unsetenv("MDC_TEST_SOMETHING_ELSE");
    /* Kubernetes service links for a Service named "whisper" are not settings */
    setenv("WHISPER_SERVICE_HOST", "10.0.0.1", 1);
    setenv("WHISPER_PORT", "tcp://10.0.0.1:80", 1);
    setenv("WHISPER_PORT_80_TCP_ADDR", "10.0.0.1", 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    unsetenv("WHISPER_SERVICE_HOST");
    unsetenv("WHISPER_PORT");
    unsetenv("WHISPER_PORT_80_TCP_ADDR");
    /* unrelated variables are ignored */
    setenv("PATHX_UNRELATED", "1", 1);
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    unsetenv("PATHX_UNRELATED");
}

static void test_env_file_syntax(void **state)
{
    write_env("# md-converter settings\n"
              "\n"
              "   # indented comment\n"
              "PORT=9090\n"
              "export HOST=127.0.0.2\n"
              "WHISPER_MODEL = \"small.en\"   # quoted, spaces around =\n"
              "WHISPER_MODELS_DIR='/data/my models'\n"
              "API_KEY=abc#def\n"
              "REPORT_LOCALE=en # trailing comment\n"
              "LOG_FORMAT=json\r\n"
              "QUEUE_LENGTH=3\n"
              "QUEUE_LENGTH=4\n"
              "UNRELATED_TOOL_SETTING=whatever\n");
    svc_config c;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.port, 9090);
    assert_string_equal(c.host, "127.0.0.2");
    assert_string_equal(c.model, "small.en");
    assert_string_equal(c.models_dir, "/data/my models");
    assert_string_equal(c.model_path, "/data/my models/ggml-small.en.bin");
    assert_string_equal(c.api_key, "abc#def"); /* '#' inside a word is not a comment */
    assert_int_equal(c.report_locale, RPT_LOCALE_EN);
    assert_true(c.log_json);
    assert_int_equal(c.queue_length, 4); /* later line wins */
}

static void test_environment_wins_over_file(void **state)
{
    write_env("PORT=9090\nWHISPER_MODEL=tiny\n");
    setenv("PORT", "7070", 1);
    svc_config c;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.port, 7070);
    assert_string_equal(c.model, "tiny");
}

static void test_default_dotenv_in_cwd(void **state)
{
    FILE *f = fopen(".env", "w");
    assert_non_null(f);
    fputs("PORT=6060\n", f);
    fclose(f);
    svc_config c;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_int_equal(c.port, 6060);
    unlink(".env");
}

static void test_env_file_errors(void **state)
{
    write_env("PORT=99999\n");
    expect_fail("invalid PORT=\"99999\"", "test.env:1");
    write_env("# ok\nWHISPER_PRELOAD=perhaps\n");
    expect_fail("WHISPER_PRELOAD", "test.env:2");
    write_env("this is not a setting\n");
    expect_fail("test.env:1", "KEY=VALUE");
    write_env("API_KEY=\"unterminated\n");
    expect_fail("test.env:1", "unterminated");
    write_env("HOST=\"x\" trailing\n");
    expect_fail("test.env:1", "after the closing quote");
    write_env("WHISPER_PRELAOD=true\n");
    expect_fail("unknown setting WHISPER_PRELAOD", "test.env:1");
    setenv("MDC_ENV_FILE", "/nonexistent/dir/x.env", 1);
    expect_fail("/nonexistent/dir/x.env", "MDC_ENV_FILE");
}

/* .env.example documents every variable with its default: loading it must give exactly
 * the defaults, and it must name every variable the loader knows. */
static void test_env_example_is_the_defaults(void **state)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/.env.example", g_cwd);
    TU_REQUIRE_FILE(path);
    setenv("MDC_ENV_FILE", path, 1);
    svc_config c, d;
    char err[512] = "";
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    svc_config_defaults(&d);
    assert_string_equal(c.env_file, path); /* the one value that is not a default */
    memcpy(d.env_file, c.env_file, sizeof d.env_file);
    assert_memory_equal(&c, &d, sizeof c);
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    for (size_t i = 0; i < sizeof k_all / sizeof k_all[0]; i++) {
        if (strcmp(k_all[i], "MDC_ENV_FILE") == 0 || strcmp(k_all[i], "WHISPER_PRELAOD") == 0 ||
            strcmp(k_all[i], "MDC_BOGUS") == 0)
            continue;
        char key[80];
        snprintf(key, sizeof key, "\n%s=", k_all[i]);
        if (!strstr(text, key))
            fail_msg(".env.example does not document %s", k_all[i]);
    }
    free(text);
}

/* Every row of the table is documented, and its default parses to what
 * svc_config_defaults gives (defaults come from the rows' text). */
static void test_table_rows_documented(void **state)
{
    size_t n = svc_settings_count();
    assert_true(n >= 21);
    assert_null(svc_setting_at(n));
    for (size_t i = 0; i < n; i++) {
        const svc_setting_doc *d = svc_setting_at(i);
        assert_non_null(d->name);
        assert_non_null(d->section);
        assert_non_null(d->def);
        assert_true(d->doc && strlen(d->doc) > 10);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(svc_setting_at(j)->name, d->name);
        svc_config c, dflt;
        char err[512] = "";
        svc_config_defaults(&dflt);
        svc_config_defaults(&c);
        if (strcmp(d->name, "MDC_ENV_FILE") == 0)
            continue;
        if (svc_config_set(&c, d->name, d->def, "test", err, sizeof err) != 0)
            fail_msg("default of %s does not parse: %s", d->name, err);
        assert_memory_equal(&c, &dflt, sizeof c);
    }
}

/* svc_config_set goes through the same row as the loader (the CLI's -m/--locale). */
static void test_set_one(void **state)
{
    svc_config c;
    char err[512] = "";
    svc_config_defaults(&c);
    assert_int_equal(svc_config_set(&c, "WHISPER_MODEL", "tiny.en", "-m", err, sizeof err), 0);
    assert_string_equal(c.model_path, "models/ggml-tiny.en.bin");
    assert_int_equal(svc_config_set(&c, "WHISPER_MODEL", "huge", "-m", err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid WHISPER_MODEL=\"huge\" (-m)"));
    assert_int_equal(svc_config_set(&c, "REPORT_LOCALE", "EN", "--locale", err, sizeof err), 0);
    assert_int_equal(c.report_locale, RPT_LOCALE_EN);
    assert_int_equal(svc_config_set(&c, "REPORT_LOCALE", "fr", "--locale", err, sizeof err), -1);
    assert_non_null(strstr(err, "pt-BR|en"));
    assert_int_equal(svc_config_set(&c, "NO_SUCH", "1", "x", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown setting NO_SUCH"));
    assert_int_equal(svc_config_set(&c, "API_KEY", "a b", "x", err, sizeof err), -1);
    assert_null(strstr(err, "a b")); /* a secret is never echoed */

    /* svc_config_get gives each value back in the form the table accepts */
    char v[64];
    assert_int_equal(svc_config_get(&c, "REPORT_LOCALE", v, sizeof v), 0);
    assert_string_equal(v, "en");
    assert_int_equal(svc_config_get(&c, "LOG_FORMAT", v, sizeof v), 0);
    assert_string_equal(v, "text");
    assert_int_equal(svc_config_get(&c, "MAX_UPLOAD_MB", v, sizeof v), 0);
    assert_string_equal(v, "200");
    assert_int_equal(svc_config_get(&c, "WHISPER_PRELOAD", v, sizeof v), 0);
    assert_string_equal(v, "false");
    assert_int_equal(svc_config_get(&c, "LOG_LEVEL", v, sizeof v), 0);
    assert_string_equal(v, "info");
    assert_int_equal(svc_config_set(&c, "API_KEY", "k", "x", err, sizeof err), 0);
    assert_int_equal(svc_config_get(&c, "API_KEY", v, sizeof v), -1); /* never given out */
    assert_int_equal(svc_config_get(&c, "NO_SUCH", v, sizeof v), -1);
}

/* WEB_DIR comes from the table (it was a bare getenv); MDC_ENV_FILE only from the
 * environment: a settings file naming another one is refused, not ignored. */
static void test_web_dir_and_env_only(void **state)
{
    svc_config c;
    char err[512] = "";
    write_env("WEB_DIR=/srv/web\n");
    assert_int_equal(svc_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.web_dir, "/srv/web");
    assert_string_equal(c.env_file, g_env);
    write_env("MDC_ENV_FILE=/elsewhere.env\n");
    expect_fail("MDC_ENV_FILE", "only be set in the environment");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_names_and_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_variable_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_names_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_wins_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_dotenv_in_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_example_is_the_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_rows_documented, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_dir_and_env_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
