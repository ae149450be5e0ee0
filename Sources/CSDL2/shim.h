// The SDL2 API as Swift imports it: the umbrella header, nothing else.
#include <SDL2/SDL.h>
