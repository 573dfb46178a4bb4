#include "CFFmpegShim.h"

#include <errno.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/version.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

int redub_averror(int errnum) { return AVERROR(errnum); }

int redub_avunerror(int code) { return AVUNERROR(code); }

int redub_averror_eof(void) { return AVERROR_EOF; }

int redub_averror_eagain(void) { return AVERROR(EAGAIN); }

int redub_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }

int redub_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }

int redub_averror_encoder_not_found(void) { return AVERROR_ENCODER_NOT_FOUND; }

int64_t redub_av_nopts_value(void) { return AV_NOPTS_VALUE; }

char *redub_av_err2str(int errnum, char *buffer, size_t size) {
  if (buffer == NULL || size == 0) {
    return buffer;
  }
  // av_strerror fills the buffer with a generic text even when it returns < 0,
  // so its result is not needed; the explicit terminator guards a short buffer.
  (void)av_strerror(errnum, buffer, size);
  buffer[size - 1] = '\0';
  return buffer;
}

size_t redub_av_error_max_string_size(void) { return AV_ERROR_MAX_STRING_SIZE; }

unsigned redub_av_version_major(unsigned version) { return AV_VERSION_MAJOR(version); }

unsigned redub_av_version_minor(unsigned version) { return AV_VERSION_MINOR(version); }

unsigned redub_av_version_micro(unsigned version) { return AV_VERSION_MICRO(version); }

double redub_display_rotation_get(const int32_t *matrix) { return av_display_rotation_get(matrix); }

void redub_display_rotation_set(int32_t *matrix, double angle) { av_display_rotation_set(matrix, angle); }

const char *redub_pix_fmt_name(int format) { return av_get_pix_fmt_name((enum AVPixelFormat)format); }

int redub_pix_fmt_from_name(const char *name) { return (int)av_get_pix_fmt(name); }

int redub_pix_fmt_is_hardware(int format) {
  const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get((enum AVPixelFormat)format);
  return descriptor != NULL && (descriptor->flags & AV_PIX_FMT_FLAG_HWACCEL) != 0;
}
