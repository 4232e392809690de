#include "key_layout.hpp"

namespace micro::redis {

TableKeys::TableKeys(std::string_view database, std::string_view table) {
    std::string base = "micro:{";
    base += std::to_string(database.size());
    base += ':';
    base += database;
    base += ':';
    base += std::to_string(table.size());
    base += ':';
    base += table;
    base += "}:";
    recordPrefix_ = base + "r:";
    index_ = base + "idx";
    expiries_ = base + "exp";
    versions_ = base + "ver";
}

std::string lexMin(std::string_view prefix) {
    if (prefix.empty()) return "-";
    return "[" + std::string(prefix);
}

std::string lexMax(std::string_view prefix) {
    // The smallest string greater than every string starting with `prefix`:
    // drop trailing 0xff bytes, then increment the last byte. A prefix of
    // only 0xff bytes has no such bound: everything after it matches.
    std::string bound(prefix);
    while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
    if (bound.empty()) return "+";
    bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
    return "(" + bound;
}

}  // namespace micro::redis
