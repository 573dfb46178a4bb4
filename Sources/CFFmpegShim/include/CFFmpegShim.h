// FFmpeg's function-like macros as real symbols, so Swift can call them.
// Swift imports only simple literal macros; AVERROR(e), AVERROR_EOF (built with FFERRTAG),
// AV_NOPTS_VALUE (a cast) and av_err2str (a compound literal) are invisible without these.
// The header uses only standard C types so importing it does not pull FFmpeg's headers in twice.
#ifndef REDUB_CFFMPEG_SHIM_H
#define REDUB_CFFMPEG_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// AVERROR(errnum): the negative FFmpeg code for a POSIX errno value.
int redub_averror(int errnum);

/// AVUNERROR(code): the POSIX errno value behind a negative FFmpeg code.
int redub_avunerror(int code);

/// AVERROR_EOF: end of stream, returned by demuxers and drained codecs.
int redub_averror_eof(void);

/// AVERROR(EAGAIN): a codec wants more input or its output must be read first.
int redub_averror_eagain(void);

/// AVERROR_INVALIDDATA: the input is malformed.
int redub_averror_invaliddata(void);

/// AVERROR_DECODER_NOT_FOUND / AVERROR_ENCODER_NOT_FOUND.
int redub_averror_decoder_not_found(void);
int redub_averror_encoder_not_found(void);

/// AV_NOPTS_VALUE: the timestamp sentinel meaning "no timestamp".
int64_t redub_av_nopts_value(void);

/// av_err2str without the compound literal: writes the message for `errnum` into `buffer`
/// (always NUL-terminated when size > 0) and returns `buffer`.
char *redub_av_err2str(int errnum, char *buffer, size_t size);

/// Size of a buffer that holds any av_strerror message (AV_ERROR_MAX_STRING_SIZE).
size_t redub_av_error_max_string_size(void);

/// AV_VERSION_MAJOR / MINOR / MICRO of a packed version from avformat_version() and friends.
unsigned redub_av_version_major(unsigned version);
unsigned redub_av_version_minor(unsigned version);
unsigned redub_av_version_micro(unsigned version);

/// The rotation in degrees (counter-clockwise, as av_display_rotation_get) of a 3×3 display
/// matrix (stream side data AV_PKT_DATA_DISPLAYMATRIX, 9 int32 values); NAN when degenerate.
double redub_display_rotation_get(const int32_t *matrix);

/// Fills a 3×3 display matrix (9 int32 values) for a counter-clockwise rotation in degrees.
void redub_display_rotation_set(int32_t *matrix, double angle);

/// av_get_pix_fmt_name: the name of an AVPixelFormat value, or NULL when unknown.
const char *redub_pix_fmt_name(int format);

/// av_get_pix_fmt: the AVPixelFormat value for a name, or -1 (AV_PIX_FMT_NONE) when unknown.
int redub_pix_fmt_from_name(const char *name);

/// Whether a pixel format is a hardware surface (AV_PIX_FMT_FLAG_HWACCEL): no CPU pixels.
int redub_pix_fmt_is_hardware(int format);

#endif
