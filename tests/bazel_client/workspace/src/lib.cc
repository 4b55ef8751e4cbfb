#include "src/lib.h"
#include "src/greeting.h"
std::string Greet(const std::string& who) { return std::string(kGreeting) + ", " + who; }
