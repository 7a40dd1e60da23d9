// goro/http/headers.hpp — an ordered list of HTTP header fields with case-insensitive names
// (Go's http.Header, minus the canonicalization: names keep the spelling they came with).
//
//   goro::http::Headers h;
//   h.add("Set-Cookie", "a=1");
//   h.add("set-cookie", "b=2");
//   h.get("SET-COOKIE");              // "a=1": the first value
//   h.get_all("Set-Cookie");          // {"a=1", "b=2"}
//   h.set("Content-Type", "text/plain");   // replaces every field of that name
//   for (const auto& f : h) std::printf("%.*s: %.*s\n", ...f.name..., ...f.value...);
//
// Fields keep their order and repetitions (a request's as they arrived). Lookups compare
// names ASCII-case-insensitively and are linear: header lists are short.
//
// Storage: add() and set() copy name and value into the Headers' own memory, so the views
// a Headers hands out stay valid until that field is removed or the Headers is cleared or
// destroyed (moving a Headers keeps them valid). The request headers the server builds
// point into the connection's read buffer instead (no copy per request); they are valid
// while the handler runs. Copying a Headers copies every byte, so a copy owns its data.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace goro::http {

namespace detail {
struct HeadersAccess;
// a[0, n) and b[0, n) are equal ignoring ASCII case.
bool iequals_n(const char* a, const char* b, std::size_t n) noexcept;
}  // namespace detail

// ASCII case-insensitive equality, for header names and tokens. (The length check is
// inline: most names compared differ in length.)
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && detail::iequals_n(a.data(), b.data(), a.size());
}

class Headers {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };
  using const_iterator = std::vector<Field>::const_iterator;

  Headers() noexcept = default;
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);
  Headers(const Headers& o);
  Headers& operator=(const Headers& o);
  Headers(Headers&&) noexcept = default;
  Headers& operator=(Headers&&) noexcept = default;
  ~Headers() = default;

  // The first value of `name`, or "" if there is none (use find() to tell an empty value
  // from an absent field).
  std::string_view get(std::string_view name) const noexcept;
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  bool has(std::string_view name) const noexcept { return find(name).has_value(); }
  // Every value of `name`, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;

  // Appends a field. A name must be a token (letters, digits, !#$%&'*+-.^_`|~) and a
  // value must hold no CR, LF or NUL, or std::invalid_argument is thrown: such a field
  // would end the header block early and let what follows it pass as other fields or a
  // body (response splitting).
  void add(std::string_view name, std::string_view value);
  // Replaces every field named `name` by one (appended if there was none). Checks as add().
  void set(std::string_view name, std::string_view value);
  // Removes every field named `name`; returns how many there were.
  std::size_t erase(std::string_view name) noexcept;
  void clear() noexcept;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  const_iterator begin() const noexcept { return fields_.begin(); }
  const_iterator end() const noexcept { return fields_.end(); }
  const Field& operator[](std::size_t i) const noexcept { return fields_[i]; }

 private:
  friend struct detail::HeadersAccess;
  // Copies name and value into owned memory and returns views on it.
  Field own(std::string_view name, std::string_view value);
  // set() after its checks (also for callers that checked already: HeadersAccess).
  void set_unchecked(std::string_view name, std::string_view value);

  std::vector<Field> fields_;
  // The bytes of add()/set() fields: packed into chunks of kChunk bytes (the first one is
  // kept by clear(), so a Headers reused per request stops allocating), larger ones in
  // blocks of their own. Addresses never change while the field lives.
  static constexpr std::size_t kChunk = 512;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::size_t chunk_used_ = 0;  // bytes used in chunks_.back()
  std::vector<std::unique_ptr<char[]>> blocks_;
};

}  // namespace goro::http
