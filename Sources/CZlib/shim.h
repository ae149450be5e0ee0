// The zlib API as Swift imports it.
#include <zlib.h>
