// goro/net.hpp — everything in goro::net (and goro's core).
#pragma once

#include <goro/goro.hpp>
#include <goro/net/address.hpp>
#include <goro/net/copy.hpp>
#include <goro/net/error.hpp>
#include <goro/net/resolve.hpp>
#include <goro/net/serve.hpp>
#include <goro/net/tcp.hpp>
