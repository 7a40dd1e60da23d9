// asio.cpp — standalone Asio's compiled part, built once for goro_net (Asio's
// ASIO_SEPARATE_COMPILATION pattern; see net/CMakeLists.txt). Only netpoll.cpp uses Asio.
#include <asio/impl/src.hpp>
