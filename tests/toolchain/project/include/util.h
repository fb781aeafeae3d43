/* util.h - a helper of the toolchain test's guest, in its own directory (-I). */
#ifndef UTIL_H
#define UTIL_H
double hypotenuse(double a, double b);
#endif
