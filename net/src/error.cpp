// error.cpp — the "goro.net" error category (goro/net/error.hpp).
#include <goro/net/error.hpp>

#include <string>

namespace goro::net {

namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.net"; }

  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::kEof:
        return "end of file";
      case Errc::kUnexpectedEof:
        return "unexpected end of file";
      case Errc::kTimeout:
        return "i/o timeout";
      case Errc::kClosed:
        return "use of closed network connection";
    }
    return "unknown goro.net error " + std::to_string(ev);
  }

  std::error_condition default_error_condition(int ev) const noexcept override {
    if (static_cast<Errc>(ev) == Errc::kTimeout) return std::errc::timed_out;
    return {ev, *this};
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

}  // namespace goro::net
