# md-converter build.  `make` builds build/md-converter; `make test` runs every test;
# `make sanitize` runs the unit tests under ASan/UBSan and the model holder under TSan;
# `make bench` prints the engine benchmark; `make fuzz` builds the libFuzzer harnesses.
#
# Each module in src/<module>/ becomes build/lib/libmdc_<module>.a; sources are found
# by wildcard, so adding a file needs no edit here.  Files named *_avx2.c / *_avx512.c
# are compiled for that ISA only and must be reached through run-time CPU dispatch
# (the binary itself targets baseline x86-64 so the Docker image runs on any host).

SAN ?=
ifeq ($(SAN),)
BUILD ?= build
OPT ?= -O2
else
BUILD ?= build-$(SAN)
OPT ?= -O1
endif

CC ?= cc
FFMPEG_PKGS := libavformat libavcodec libswresample libavutil
CORE_PKGS := libmicrohttpd fftw3f jansson hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(FFMPEG_PKGS) $(CORE_PKGS) 2>/dev/null)
FFMPEG_LIBS := $(shell pkg-config --libs $(FFMPEG_PKGS) 2>/dev/null)
CORE_LIBS := $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null) -lopenblas -lz -lm -pthread
PKG_LIBS := $(FFMPEG_LIBS) $(CORE_LIBS)

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla -Wformat=2
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Iinclude -Isrc $(PKG_CFLAGS) -pthread -MMD -MP $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) $(LDLIBS)

ifeq ($(SAN),asan)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
CFLAGS_ALL += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

ISA_avx2 := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c

# Link order: dependencies point down (service → metrics/report/audio/whisper/vad → common).
MODULES := service metrics report audio whisper vad common
lib_of = $(BUILD)/lib/libmdc_$(1).a
objs_of = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/$(1)/*.c))
LIBS := $(foreach m,$(MODULES),$(call lib_of,$(m)))

BIN := $(BUILD)/md-converter
# The server binary does not link FFmpeg: src/audio/ is also built as a shared object,
# mdc-audio.so (next to the binary), that src/audio/plugin/loader.c dlopen()s on the
# first decode — FFmpeg's ~130 dependent libraries would otherwise cost ~25 MB of RSS
# and 0.1-0.3 s before main() (docs/PERFORMANCE.md, "Start-up").  Tests and tools link
# libmdc_audio.a statically as usual.
PLUGIN := $(BUILD)/mdc-audio.so
AUDIO_PIC_OBJS := $(patsubst src/%.c,$(BUILD)/obj-pic/%.o,$(wildcard src/audio/*.c))
BIN_LIBS := $(foreach m,$(filter-out audio,$(MODULES)),$(call lib_of,$(m)))
BIN_OBJS := $(BUILD)/obj/main.o $(BUILD)/obj/audio/plugin/loader.o $(BUILD)/obj/audio/errors.o \
            $(BUILD)/obj/audio/channels.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

.PHONY: all tests tools test sanitize bench fuzz clean run format-check
all: $(BIN) $(PLUGIN) tools

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_$(lastword $(subst _, ,$(basename $(notdir $<))))) -c $< -o $@

define module_rule
$(call lib_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

# mdconv_build_info{commit}: the git commit, compiled into service_metrics.o only; the
# stamp named after the commit rebuilds that one object when HEAD moves.
MDC_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
COMMIT_STAMP := $(BUILD)/commit-$(MDC_COMMIT).stamp
$(COMMIT_STAMP):
	@mkdir -p $(dir $@) && rm -f $(BUILD)/commit-*.stamp && touch $@
$(BUILD)/obj/service/service_metrics.o: CFLAGS_ALL += -DMDC_COMMIT='"$(MDC_COMMIT)"'
$(BUILD)/obj/service/service_metrics.o: $(COMMIT_STAMP)

$(BUILD)/obj/main.o: src/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj-pic/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -c $< -o $@

$(PLUGIN): $(AUDIO_PIC_OBJS)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(FFMPEG_LIBS) -lm -pthread

# mdc_* (log sink, clock, UTF-8) are exported so the plugin logs through our sink.
$(BIN): $(BIN_OBJS) $(BIN_LIBS)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic-symbol='mdc_*' -o $@ $(BIN_OBJS) $(BIN_LIBS) \
		$(CORE_LIBS) -ldl $(LDLIBS)

# Unit tests (cmocka): one binary per tests/unit/test_*.c, linked with every module
# archive (the linker only pulls what the test uses).
$(BUILD)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS_ALL) -lcmocka

$(BUILD)/tools/%: tools/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS_ALL)

tests: $(UNIT_BINS)
tools: $(TOOL_BINS)

test:
	tests/run.sh

sanitize:
	tests/sanitize.sh

bench: all
	tests/perf/bench_engine.sh

fuzz:
	tests/fuzz/build.sh

# Without the model (no network): get-model.sh exits 3 with a loud message, the server
# still starts and its /ready answers 503 "model_state":"missing" until the file is there.
run: all
	MDC_BIN=$(BIN) scripts/get-model.sh || echo "make run: the model is MISSING (see above); serving anyway, /ready is 503" >&2
	$(BIN) serve

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
