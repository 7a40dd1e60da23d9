// headers.cpp — Headers: a vector of (name, value) views plus the blocks that own the
// bytes of fields added by hand. See goro/http/headers.hpp.
#include <goro/http/headers.hpp>

#include <cstring>
#include <stdexcept>
#include <string>

#include "internal.hpp"

namespace goro::http {

namespace {
inline unsigned char lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c | 0x20) : c;
}

// What add() and set() check, as a table (they run on every add): RFC 9110 tchar for
// names, and the bytes a value must not hold (CR, LF, NUL).
struct FieldBytes {
  static constexpr unsigned char kTchar = 1, kBadInValue = 2;
  unsigned char cls[256] = {};
  constexpr FieldBytes() {
    for (int c = 'a'; c <= 'z'; ++c) cls[c] = kTchar;
    for (int c = 'A'; c <= 'Z'; ++c) cls[c] = kTchar;
    for (int c = '0'; c <= '9'; ++c) cls[c] = kTchar;
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) cls[c] = kTchar;
    cls[static_cast<unsigned char>('\r')] = cls[static_cast<unsigned char>('\n')] = cls[0] = kBadInValue;
  }
};
constexpr FieldBytes kFieldBytes;

// What add() and set() refuse (see headers.hpp): a field that would not stay one field.
void check_field(std::string_view name, std::string_view value) {
  if (!detail::is_field_name(name)) throw std::invalid_argument("goro::http::Headers: a field name must be a token");
  unsigned char any = 0;
  for (char c : value) any |= kFieldBytes.cls[static_cast<unsigned char>(c)];
  if ((any & FieldBytes::kBadInValue) != 0) {
    throw std::invalid_argument("goro::http::Headers: CR, LF or NUL in the value of " +
                                std::string(name));
  }
}
}  // namespace

bool detail::is_field_name(std::string_view name) noexcept {
  unsigned char all = FieldBytes::kTchar;
  for (char c : name) all &= kFieldBytes.cls[static_cast<unsigned char>(c)];
  return !name.empty() && all != 0;
}

bool detail::iequals_n(const char* a, const char* b, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i] &&
        lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  fields_.reserve(fields.size());
  for (const auto& [n, v] : fields) add(n, v);
}

Headers::Headers(const Headers& o) {
  fields_.reserve(o.fields_.size());
  for (const Field& f : o.fields_) add(f.name, f.value);
}

Headers& Headers::operator=(const Headers& o) {
  if (this != &o) {
    Headers copy(o);
    *this = std::move(copy);
  }
  return *this;
}

Headers::Field Headers::own(std::string_view name, std::string_view value) {
  std::size_t n = name.size() + value.size();
  char* p;
  if (n > kChunk / 2) {
    blocks_.push_back(std::make_unique<char[]>(n));
    p = blocks_.back().get();
  } else {
    if (chunks_.empty() || kChunk - chunk_used_ < n) {
      chunks_.push_back(std::make_unique<char[]>(kChunk));
      chunk_used_ = 0;
    }
    p = chunks_.back().get() + chunk_used_;
    chunk_used_ += n;
  }
  if (!name.empty()) std::memcpy(p, name.data(), name.size());
  if (!value.empty()) std::memcpy(p + name.size(), value.data(), value.size());
  return Field{std::string_view(p, name.size()), std::string_view(p + name.size(), value.size())};
}

std::string_view Headers::get(std::string_view name) const noexcept {
  for (const Field& f : fields_) {
    if (iequals(f.name, name)) return f.value;
  }
  return {};
}

std::optional<std::string_view> Headers::find(std::string_view name) const noexcept {
  for (const Field& f : fields_) {
    if (iequals(f.name, name)) return f.value;
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const Field& f : fields_) {
    if (iequals(f.name, name)) out.push_back(f.value);
  }
  return out;
}

void Headers::add(std::string_view name, std::string_view value) {
  check_field(name, value);
  fields_.reserve(fields_.size() + 1);  // so that own() cannot leak a block if this throws
  fields_.push_back(own(name, value));
}

void Headers::set(std::string_view name, std::string_view value) {
  check_field(name, value);
  set_unchecked(name, value);
}

void Headers::set_unchecked(std::string_view name, std::string_view value) {
  fields_.reserve(fields_.size() + 1);  // so that own() cannot leak a block if this throws
  Field f = own(name, value);  // before erase: value may point into a field being erased
  erase(name);
  fields_.push_back(f);
}

std::size_t Headers::erase(std::string_view name) noexcept {
  std::size_t before = fields_.size();
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.name, name); });
  return before - fields_.size();
}

void Headers::clear() noexcept {
  fields_.clear();
  if (chunks_.size() > 1) chunks_.resize(1);
  chunk_used_ = 0;
  blocks_.clear();
}

}  // namespace goro::http
