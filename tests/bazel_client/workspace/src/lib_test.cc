#include "src/lib.h"
int main() { return Greet("x") == "hello from a genrule, x" ? 0 : 1; }
