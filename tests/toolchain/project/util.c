/* util.c - the second translation unit of the toolchain test's guest (libm through -lm). */
#include <math.h>

#include "util.h"

double hypotenuse(double a, double b) { return sqrt(a * a + b * b); }
