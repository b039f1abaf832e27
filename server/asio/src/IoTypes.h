#pragma once
// IoTypes: the executor, socket and timer types of a connection. Every connection lives on one
// io_context run by one thread (IoShards.h), so its objects are typed on that io_context's
// executor rather than on the type-erased any_io_executor: a socket is 40 bytes instead of 88,
// a timer 72 instead of 120, and each pending operation carries two executors the smaller way
// (docs/benchmarks.md, "Where an idle connection's memory goes").

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>

namespace switchboard::asio {

/// The executor of an io thread's io_context.
using IoExecutor = boost::asio::io_context::executor_type;
/// A connection's TCP socket.
using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
/// A timer on a connection's io_context.
using IoTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                  boost::asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;

} // namespace switchboard::asio
