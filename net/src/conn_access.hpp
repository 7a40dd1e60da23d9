// conn_access.hpp — goro::net's private view of Conn and Listener (their constructors
// and descriptors), for the files of net/src that build on the Fd underneath.
#pragma once

#include <goro/net/tcp.hpp>

#include "fd.hpp"

namespace goro::net {

struct detail::ConnAccess {
  static Conn make(Fd* fd) noexcept { return Conn(fd); }
  static Fd* fd(Conn& c) noexcept { return c.fd_; }
  static Listener make_listener(Fd* fd, const Address& local, Duration keep_alive) noexcept {
    Listener l;
    l.fd_ = fd;
    l.local_ = local;
    l.keep_alive_ = keep_alive;
    return l;
  }
};

}  // namespace goro::net
