#include <string>
std::string Greet(const std::string& who);
