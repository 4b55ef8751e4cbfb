#include <iostream>
#include "src/lib.h"
int main() { std::cout << Greet("kfarm") << "\n"; }
