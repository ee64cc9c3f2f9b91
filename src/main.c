/*
 * main.c — the md-converter command line.
 *
 *   md-converter serve                      HTTP service (settings from env and ./.env)
 *   md-converter transcribe FILE [options]  one recording → report/subtitles/JSON
 *   md-converter model info PATH            what a ggml model file holds
 *   md-converter model quantize IN OUT TYPE f16/f32 model → q4_0 … q8_0 (as whisper-quantize)
 *   md-converter settings env|markdown|get NAME  the settings table / one value
 *   md-converter --version | --help
 *
 * The only place that prints and exits.  Exit codes: 0 success, 1 failure (the message
 * names the problem), 2 usage error, 130 interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdc/audio.h"
#include "mdc/clock.h"
#include "mdc/log.h"
#include "mdc/report.h"
#include "mdc/version.h"
#include "mdc/whisper.h"
#include "service/config.h"
#include "service/holder.h"
#include "service/pipeline.h"
#include "service/server.h"


static const char k_usage[] =
    "md-converter " MDC_VERSION " — meeting recordings to Markdown reports, with its own\n"
    "Whisper engine (reads whisper.cpp's ggml model files).\n"
    "\n"
    "Usage:\n"
    "  md-converter serve\n"
    "      HTTP service. Settings come from the environment and ./.env (see .env.example):\n"
    "      PORT, HOST, WHISPER_MODEL, WHISPER_MODELS_DIR, WHISPER_PRELOAD, ...\n"
    "  md-converter transcribe FILE [options]\n"
    "      -m, --model MODEL      name (tiny, base, small.en, large-v3, ...) resolved to\n"
    "                             $WHISPER_MODELS_DIR/ggml-NAME.bin, or a path\n"
    "                             (default: $WHISPER_MODEL or base)\n"
    "      -l, --language LANG    ISO code (pt, en, ...), tag (pt-BR), English name\n"
    "                             (portuguese) or auto (default: auto)\n"
    "      -t, --threads N        compute threads (default: $WHISPER_THREADS or cores)\n"
    "          --beam-size N      beam search with N beams, 1…7 (default: greedy)\n"
    "          --no-fallback      no temperature fallback\n"
    "          --seed N           sampling seed at temperature > 0 (default 0)\n"
    "          --no-timestamps    no timestamp tokens\n"
    "          --prompt TEXT      initial prompt (names, vocabulary)\n"
    "          --translate        translate to English\n"
    "          --words            word times (whisper.cpp token timestamps): words[] in\n"
    "                             verbose_json\n"
    "          --max-words-per-cue N  srt/vtt cues of at most N words (like -ml 1 -sow)\n"
    "          --diarize          stereo recording: speaker per segment by channel energy\n"
    "                             (whisper.cpp -di; transcribes L+R)\n"
    "          --dtw PRESET       word times by cross-attention DTW: off, auto (the\n"
    "                             model's size) or tiny|tiny.en|base|...|large-v3-turbo\n"
    "                             (default: $WHISPER_DTW or off)\n"
    "          --speaker-turns T  with --diarize, md and diarized_json: auto (audio for\n"
    "                             md, segment for diarized_json), segment (-di's label\n"
    "                             per segment) or audio (turns measured on the channels,\n"
    "                             text split at the words where the turn changes)\n"
    "          --vad, --no-vad    transcribe only the speech a Silero voice-activity\n"
    "                             detector finds (default: $WHISPER_VAD, auto = on when\n"
    "                             the VAD model file is there)\n"
    "          --vad-model M      VAD model name (silero-v6.2.0) or path\n"
    "                             (default: $WHISPER_VAD_MODEL)\n"
    "      -f, --format FMT       md|txt|srt|vtt|json|verbose_json|diarized_json (default: md)\n"
    "      -o, --output FILE      write there instead of standard output\n"
    "          --title T --date D --participants P   report metadata\n"
    "          --locale pt-BR|en  report language (default: $REPORT_LOCALE or pt-BR)\n"
    "      -v, --verbose          log the model's life and the engine's messages\n"
    "  md-converter model info PATH\n"
    "      hyperparameters, weight type, tensors per type (bytes per weight) and load time\n"
    "      of a ggml model file\n"
    "  md-converter model quantize IN OUT TYPE\n"
    "      converts an f16/f32 model to TYPE = q4_0|q4_1|q5_0|q5_1|q8_0, byte for byte\n"
    "      as whisper.cpp's whisper-quantize\n"
    "  md-converter settings env|markdown|get NAME\n"
    "      every setting with its default and meaning (.env.example or a Markdown table),\n"
    "      or the value serve would use for NAME (MODEL_PATH: the resolved model file,\n"
    "      VAD_MODEL_PATH: the resolved VAD model file)\n"
    "  md-converter --version | --help\n";

/* ---- small helpers ---------------------------------------------------------------- */

/* Prints "md-converter: MESSAGE" and a hint, exits 2. */
static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "md-converter: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'md-converter --help'.\n");
    exit(2);
}

/* Parses a whole integer in [lo, hi] for option `opt`, or exits with a usage error. */
static int parse_int_opt(const char *opt, const char *v, int lo, int hi)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "md-converter: %s expects an integer from %d to %d, got \"%s\"\n", opt, lo,
                hi, v);
        exit(2);
    }
    return (int)x;
}

/* Sets one setting from a command-line option through the settings table, or exits 2. */
static void set_or_die(svc_config *cfg, const char *name, const char *value, const char *opt)
{
    char err[1024];
    if (svc_config_set(cfg, name, value, opt, err, sizeof err) != 0)
        die_usage("%s", err);
}

static void null_sink(mdc_log_level level, const char *func, const char *msg, void *user) {}

/* ---- serve ------------------------------------------------------------------------------ */

static int cmd_serve(double exec_start_s)
{
    svc_config cfg;
    char err[1024];
    if (svc_config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "md-converter: %s\n", err);
        return 2;
    }
    if (cfg.log_json)
        mdc_log_set_sink(mdc_log_sink_json, NULL);
    mdc_log_set_level(cfg.log_level);
    return svc_serve(&cfg, exec_start_s);
}

/* ---- settings --------------------------------------------------------------------------- */

/* `settings env` prints .env.example, `settings markdown` README's table; both come from
 * the one settings table (src/service/config.c).  `settings get NAME` prints the value
 * serve would use (environment, then .env, validated); MODEL_PATH / VAD_MODEL_PATH = the
 * resolved model files (scripts/get-model.sh reads the settings this way, not with its
 * own parser). */
static int cmd_settings(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "env") == 0) {
        svc_settings_write_env_example(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (argc == 2 && strcmp(argv[1], "markdown") == 0) {
        svc_settings_write_markdown(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (argc == 3 && strcmp(argv[1], "get") == 0) {
        svc_config cfg;
        char err[1024], val[2048];
        if (svc_config_load(&cfg, err, sizeof err) != 0)
            die_usage("%s", err);
        if (strcmp(argv[2], "MODEL_PATH") == 0) /* the resolved WHISPER_MODEL file */
            snprintf(val, sizeof val, "%s", cfg.model_path);
        else if (strcmp(argv[2], "VAD_MODEL_PATH") == 0) /* the resolved WHISPER_VAD_MODEL */
            snprintf(val, sizeof val, "%s", cfg.vad_model_path);
        else if (svc_config_get(&cfg, argv[2], val, sizeof val) != 0)
            die_usage("unknown setting %s (or a secret, which is not printed)", argv[2]);
        printf("%s\n", val);
        return 0;
    }
    die_usage("usage: md-converter settings env|markdown|get NAME");
}

/* ---- transcribe ------------------------------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) { g_interrupted = 1; }

static bool cli_abort(void *user) { return g_interrupted != 0; }

/* Draws "[#########...........]  42 %" on stderr (a terminal). */
static void cli_progress(int percent, void *user)
{
    enum { WIDTH = 40 };
    char bar[WIDTH + 1];
    int filled = percent * WIDTH / 100;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %3d %%", bar, percent);
    fflush(stderr);
}

static int write_output(const char *path, const char *data, size_t len)
{
    if (!path || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "md-converter: cannot write to standard output: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "md-converter: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t w = fwrite(data, 1, len, f);
    int rc = fclose(f);
    if (w != len || rc != 0) {
        fprintf(stderr, "md-converter: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_transcribe(int argc, char **argv)
{
    enum {
        O_BEAM = 256, O_NO_FALLBACK, O_NO_TS, O_PROMPT, O_TRANSLATE, O_TITLE, O_DATE,
        O_PARTICIPANTS, O_LOCALE, O_VAD, O_NO_VAD, O_VAD_MODEL, O_SEED, O_WORDS, O_MAX_WORDS,
        O_DIARIZE, O_TURNS, O_DTW
    };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"language", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"beam-size", required_argument, NULL, O_BEAM},
        {"no-fallback", no_argument, NULL, O_NO_FALLBACK},
        {"seed", required_argument, NULL, O_SEED},
        {"no-timestamps", no_argument, NULL, O_NO_TS},
        {"prompt", required_argument, NULL, O_PROMPT},
        {"translate", no_argument, NULL, O_TRANSLATE},
        {"words", no_argument, NULL, O_WORDS},
        {"max-words-per-cue", required_argument, NULL, O_MAX_WORDS},
        {"diarize", no_argument, NULL, O_DIARIZE},
        {"speaker-turns", required_argument, NULL, O_TURNS},
        {"dtw", required_argument, NULL, O_DTW},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"title", required_argument, NULL, O_TITLE},
        {"date", required_argument, NULL, O_DATE},
        {"participants", required_argument, NULL, O_PARTICIPANTS},
        {"locale", required_argument, NULL, O_LOCALE},
        {"vad", no_argument, NULL, O_VAD},
        {"no-vad", no_argument, NULL, O_NO_VAD},
        {"vad-model", required_argument, NULL, O_VAD_MODEL},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* The same settings as serve (environment, then ./.env or MDC_ENV_FILE, the one
     * table); -m and --locale override their rows, -t WHISPER_THREADS. */
    svc_config cfg;
    char err[1024];
    if (svc_config_load(&cfg, err, sizeof err) != 0)
        die_usage("%s", err);
    const char *out_path = NULL;
    bool verbose = false;
    int vad_choice = -1; /* -1: $WHISPER_VAD; 0 --no-vad; 1 --vad */
    bool dtw_opt = false; /* --dtw given (WHISPER_DTW alone applies only where words are) */
    pipeline_request req = {.temperature = -1, .format = RPT_FORMAT_MARKDOWN};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:l:t:f:o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': set_or_die(&cfg, "WHISPER_MODEL", optarg, "-m"); break;
        case 'l': req.language = optarg; break;
        case 't': req.n_threads = parse_int_opt("--threads", optarg, 1, 1024); break;
        case O_BEAM: req.beam_size = parse_int_opt("--beam-size", optarg, 1, PIPELINE_MAX_BEAMS); break;
        case O_NO_FALLBACK: req.no_fallback = true; break;
        case O_SEED: req.seed = (uint32_t)parse_int_opt("--seed", optarg, 0, INT32_MAX); break;
        case O_NO_TS: req.no_timestamps = true; break;
        case O_PROMPT: req.prompt = optarg; break;
        case O_TRANSLATE: req.translate = true; break;
        case O_WORDS: req.word_timestamps = true; break;
        case O_MAX_WORDS:
            req.max_words_per_cue = parse_int_opt("--max-words-per-cue", optarg, 1, 100);
            break;
        case O_DIARIZE: req.diarize = true; break;
        case O_DTW:
            set_or_die(&cfg, "WHISPER_DTW", optarg, "--dtw");
            dtw_opt = true;
            break;
        case O_TURNS:
            if (pipeline_turns_parse(optarg, &req.speaker_turns) != 0)
                die_usage("--speaker-turns must be auto, segment or audio (got \"%s\")", optarg);
            break;
        case 'f':
            if (rpt_format_parse(optarg, &req.format) != 0)
                die_usage("unknown format \"%s\" (md|txt|srt|vtt|json|verbose_json|"
                          "diarized_json)", optarg);
            break;
        case 'o': out_path = optarg; break;
        case O_TITLE: req.meta.title = optarg; break;
        case O_DATE: req.meta.date = optarg; break;
        case O_PARTICIPANTS: req.meta.participants = optarg; break;
        case O_LOCALE: set_or_die(&cfg, "REPORT_LOCALE", optarg, "--locale"); break;
        case O_VAD: vad_choice = 1; break;
        case O_NO_VAD: vad_choice = 0; break;
        case O_VAD_MODEL: set_or_die(&cfg, "WHISPER_VAD_MODEL", optarg, "--vad-model"); break;
        case 'v': verbose = true; break;
        case 'h': fputs(k_usage, stdout); return 0;
        default: fprintf(stderr, "Try 'md-converter --help'.\n"); return 2;
        }
    }
    if (optind != argc - 1) {
        die_usage("%s", optind >= argc ? "transcribe needs one audio or video FILE"
                                       : "transcribe takes exactly one FILE");
    }
    const char *file = argv[optind];
    char lang_code[8]; /* the pipeline normalises again; this only decides the exit code */
    if (pipeline_language_parse(req.language, lang_code, sizeof lang_code) != 0)
        die_usage("unknown language \"%s\": use an ISO 639-1 code (pt, en, es ...), a tag such "
                  "as pt-BR, an English name such as portuguese, or auto",
                  req.language);
    if (req.format == RPT_FORMAT_DIARIZED_JSON)
        req.diarize = true;
    const int turns_why = pipeline_turns_check(req.speaker_turns, req.diarize, req.format);
    if (turns_why == PIPELINE_TURNS_NEED_DIARIZE)
        die_usage("--speaker-turns needs --diarize (or -f diarized_json)");
    if (turns_why)
        die_usage("--speaker-turns applies to -f md and -f diarized_json only (the other "
                  "formats carry whisper.cpp's per-segment labels)");
    if (pipeline_dtw_parse(cfg.dtw, &req.dtw) != 0)
        die_usage("WHISPER_DTW: \"%s\" is not off, auto or a preset", cfg.dtw);
    if (dtw_opt && req.dtw != PIPELINE_DTW_OFF && !pipeline_needs_words(&req))
        die_usage("--dtw sets word times: add --words (-f verbose_json), --max-words-per-cue "
                  "or --diarize (md)");
    if (req.word_timestamps && req.format != RPT_FORMAT_VERBOSE_JSON &&
        req.format != RPT_FORMAT_MARKDOWN)
        die_usage("--words needs -f verbose_json (srt/vtt: --max-words-per-cue)");
    if (req.max_words_per_cue > 0 && req.format != RPT_FORMAT_SRT && req.format != RPT_FORMAT_VTT)
        die_usage("--max-words-per-cue needs -f srt or -f vtt");
    if (req.word_timestamps)
        req.want_segments = true; /* the CLI keeps the segments beside the words */
    req.meta.locale = cfg.report_locale;
    req.vad = vad_choice < 0 ? svc_config_vad_default_on(&cfg) : vad_choice == 1;
    if (req.vad && !cfg.vad_model_path[0])
        die_usage("--vad needs a VAD model: --vad-model silero-v6.2.0 (or WHISPER_VAD_MODEL)");
    req.vad_params = svc_config_vad_params(&cfg);
    if (req.n_threads == 0)
        req.n_threads = cfg.threads;
    req.mel_clamp = (wsp_mel_clamp)cfg.mel_clamp;
    char context[512];
    if (svc_config_model_is_path(cfg.model))
        context[0] = '\0';
    else
        snprintf(context, sizeof context, "-m %.100s, WHISPER_MODELS_DIR=%.300s", cfg.model,
                 cfg.models_dir);
    if (!verbose)
        mdc_log_set_sink(null_sink, NULL); /* errors come back in the result, printed once */
    else {
        if (cfg.log_json)
            mdc_log_set_sink(mdc_log_sink_json, NULL);
        mdc_log_set_level(cfg.log_level);
    }

    const char *slash = strrchr(file, '/');
    req.audio_path = file;
    req.source_name = slash ? slash + 1 : file;
    req.abort_cb = cli_abort;
    bool tty = isatty(STDERR_FILENO) && !verbose;
    if (tty)
        req.progress_cb = cli_progress;

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    holder_options ho = {.name = cfg.model, .path = cfg.model_path, .context = context};
    model_holder *h = holder_new(&ho);
    model_holder *vh = NULL;
    if (h && req.vad) {
        holder_options vo = {.kind = &holder_kind_vad, .name = cfg.vad_model,
                             .path = cfg.vad_model_path};
        vh = req.vad_holder = holder_new(&vo);
    }
    if (!h || (req.vad && !vh)) {
        holder_free(h);
        fprintf(stderr, "md-converter: out of memory\n");
        return 1;
    }
    pipeline_result res;
    pipeline_run(h, &req, &res);
    holder_free(h);
    holder_free(vh);
    if (tty)
        fputc('\n', stderr);
    int rc = 0;
    if (res.http_status != 200) {
        if (res.http_status == PIPELINE_STATUS_CLIENT_CLOSED && g_interrupted) {
            fprintf(stderr, "md-converter: interrupted\n");
            rc = 130;
        } else if (strcmp(res.error_code, "model_unavailable") == 0) {
            fprintf(stderr, "md-converter: %s\n", res.error_message); /* names the model */
            rc = 1;
        } else {
            fprintf(stderr, "md-converter: %s: %s\n", file, res.error_message);
            rc = 1;
        }
    } else {
        rc = write_output(out_path, res.body, res.body_len);
        if (verbose)
            fprintf(stderr, "md-converter: %.1f s of audio in %.2f s (language %s)\n",
                    res.audio_seconds, res.processing_seconds, res.language);
        if (verbose && res.vad_used)
            fprintf(stderr, "md-converter: voice-activity detection kept %.1f s of speech\n",
                    res.speech_seconds);
        if (verbose)
            fprintf(stderr, "md-converter: engine: %d encoder window(s), %d decoder step(s)\n",
                    res.encoder_windows, res.decoder_steps);
    }
    pipeline_result_free(&res);
    return rc;
}

/* ---- model info | quantize ------------------------------------------------------------ */

static int cmd_model_info(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "md-converter: cannot load model %s: %s\n", path,
                errno == ENOENT ? "file not found" : strerror(errno));
        return 1;
    }
    wsp_model *m = NULL;
    wsp_error err = {0};
    double t0 = mdc_now_ms();
    int rc = wsp_model_load(path, &m, &err);
    double ms = mdc_now_ms() - t0;
    if (rc != 0) {
        fprintf(stderr, "md-converter: cannot load model %s: %s (%s)\n", path,
                err.message[0] ? err.message : wsp_strerror(rc), wsp_err_name(rc));
        return 1;
    }
    const wsp_hparams *hp = wsp_model_hparams(m);
    printf("file:           %s\n", path);
    printf("file size:      %llu bytes (%.1f MiB)\n", (unsigned long long)wsp_model_file_bytes(m),
           (double)wsp_model_file_bytes(m) / (1024.0 * 1024.0));
    printf("model type:     %s (%s)\n", wsp_model_type_name(m),
           wsp_model_is_multilingual(m) ? "multilingual" : "English-only");
    printf("weight type:    %s (ftype %d)\n", wsp_model_ftype_name(m), hp->ftype);
    printf("n_vocab:        %d\n", hp->n_vocab);
    printf("n_audio_ctx:    %d\n", hp->n_audio_ctx);
    printf("n_audio_state:  %d\n", hp->n_audio_state);
    printf("n_audio_head:   %d\n", hp->n_audio_head);
    printf("n_audio_layer:  %d\n", hp->n_audio_layer);
    printf("n_text_ctx:     %d\n", hp->n_text_ctx);
    printf("n_text_state:   %d\n", hp->n_text_state);
    printf("n_text_head:    %d\n", hp->n_text_head);
    printf("n_text_layer:   %d\n", hp->n_text_layer);
    printf("n_mels:         %d\n", hp->n_mels);
    printf("tensors:        %d\n", wsp_model_n_tensors(m));
    wsp_tensor_type_stats ts[WSP_MAX_TENSOR_TYPES];
    const int n_ts = wsp_model_tensor_types(m, ts, WSP_MAX_TENSOR_TYPES);
    for (int i = 0; i < n_ts; i++)
        printf("  %-6s        %4d tensors, %12llu weights, %12llu bytes (%.4g bytes/weight)\n",
               ts[i].name, ts[i].n_tensors, (unsigned long long)ts[i].n_weights,
               (unsigned long long)ts[i].n_bytes,
               ts[i].n_weights ? (double)ts[i].n_bytes / (double)ts[i].n_weights : 0.0);
    uint64_t n_weights = 0;
    for (int i = 0; i < n_ts; i++)
        n_weights += ts[i].n_weights;
    printf("tensor bytes:   %llu (%.1f MiB, %.4g bytes/weight over %llu weights)\n",
           (unsigned long long)wsp_model_tensor_bytes(m),
           (double)wsp_model_tensor_bytes(m) / (1024.0 * 1024.0),
           n_weights ? (double)wsp_model_tensor_bytes(m) / (double)n_weights : 0.0,
           (unsigned long long)n_weights);
    printf("load time:      %.2f ms (map + validate)\n", ms);
    wsp_model_free(m);
    return 0;
}

/* Draws "quantizing [#####.....]  42 %" on stderr (a terminal). */
static void quantize_progress(int percent, void *user)
{
    enum { WIDTH = 40 };
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < percent * WIDTH / 100 ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\rquantizing [%s] %3d %%", bar, percent);
    fflush(stderr);
}

static int cmd_model_quantize(const char *in, const char *out, const char *type_name)
{
    wsp_qtype type;
    if (wsp_qtype_parse(type_name, &type) != 0)
        die_usage("unknown quantization type \"%s\" (q4_0|q4_1|q5_0|q5_1|q8_0)", type_name);
    const bool tty = isatty(STDERR_FILENO);
    struct sigaction sa = {0};
    /* Ctrl-C: stop, remove the temporary file, exit 130.  The handler stays installed
     * (no SA_RESETHAND): a SIGINT sent to the process and to its group (coreutils
     * timeout, a terminal) arrives twice, and the second must not kill us before the
     * temporary file is removed; the abort is checked between rows, so it is prompt. */
    sa.sa_handler = on_sigint;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    const wsp_quantize_params qp = {.progress_cb = tty ? quantize_progress : NULL,
                                    .abort_cb = cli_abort};
    wsp_error err = {0};
    double t0 = mdc_now_ms();
    int rc = wsp_model_quantize(in, out, type, &qp, &err);
    if (tty)
        fputc('\n', stderr);
    if (rc == WSP_ECANCELED && g_interrupted) {
        fprintf(stderr, "md-converter: interrupted; %s not written\n", out);
        return 130;
    }
    if (rc != 0) {
        fprintf(stderr, "md-converter: model quantize: %s (%s)\n",
                err.message[0] ? err.message : wsp_strerror(rc), wsp_err_name(rc));
        return 1;
    }
    struct stat st;
    if (tty && stat(out, &st) == 0)
        fprintf(stderr, "md-converter: wrote %s (%s, %lld bytes) in %.1f s\n", out,
                wsp_qtype_name(type), (long long)st.st_size, (mdc_now_ms() - t0) / 1000.0);
    return 0;
}

static int cmd_model(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "info") == 0) {
        if (argc != 3)
            die_usage("model info needs one PATH");
        return cmd_model_info(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "quantize") == 0) {
        if (argc != 5)
            die_usage("model quantize needs IN OUT TYPE (TYPE: q4_0|q4_1|q5_0|q5_1|q8_0)");
        return cmd_model_quantize(argv[2], argv[3], argv[4]);
    }
    die_usage("usage: md-converter model info PATH | model quantize IN OUT TYPE");
}

int main(int argc, char **argv)
{
    double exec_start_s = mdc_now_s(); /* first: mdconv_startup_seconds counts from here */
    if (argc < 2) {
        fputs(k_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("md-converter %s (engine %s)\n", MDC_VERSION, wsp_version());
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) {
        if (argc > 2) {
            if (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
                fputs(k_usage, stdout);
                return 0;
            }
            die_usage("serve takes no arguments (settings come from the environment): %s",
                      argv[2]);
        }
        return cmd_serve(exec_start_s);
    }
    if (strcmp(cmd, "transcribe") == 0)
        return cmd_transcribe(argc - 1, argv + 1);
    if (strcmp(cmd, "model") == 0)
        return cmd_model(argc - 1, argv + 1);
    if (strcmp(cmd, "settings") == 0)
        return cmd_settings(argc - 1, argv + 1);
    die_usage("unknown command \"%s\" (serve, transcribe, model info|quantize, settings)", cmd);
}
