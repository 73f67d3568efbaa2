#include "supervisor/lifetime.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

namespace corral::supervisor {

namespace asio = boost::asio;

// The sleeps in progress, woken when the owner goes.
struct Lifetime::State {
    std::vector<std::weak_ptr<asio::steady_timer>> sleepers;
};

Lifetime::Lifetime(asio::any_io_executor executor, Clock& clock,
                   std::function<void(const std::string&)> report)
    : executor_(std::move(executor)),
      clock_(clock),
      report_(std::move(report)),
      token_(std::make_shared<State>()) {}

Lifetime::~Lifetime() {
    auto sleepers = std::move(token_->sleepers);
    token_.reset();
    for (auto& weak : sleepers)
        if (auto timer = weak.lock()) timer->cancel();
}

asio::awaitable<void> Lifetime::sleep(Duration delay) const {
    return pause(token_, clock_, delay, nullptr);
}

asio::awaitable<void> Lifetime::sleep(Duration limit, corral::Signal<>& wake) const {
    return pause(token_, clock_, limit, &wake);
}

asio::awaitable<void> Lifetime::pause(std::weak_ptr<State> token, Clock& clock, Duration delay,
                                      corral::Signal<>* wake) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    if (auto state = token.lock()) {
        std::erase_if(state->sleepers, [](const auto& w) { return w.expired(); });
        state->sleepers.push_back(timer);
    } else {
        throw Ended{};
    }
    auto due = clock.schedule(delay, [timer] { timer->cancel(); });
    corral::Connection early;
    if (wake) early = wake->connect([timer] { timer->cancel(); });
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (token.expired()) throw Ended{};
}

void Lifetime::spawn(asio::awaitable<void> work, std::string what) const {
    asio::co_spawn(executor_, begun(token_, std::move(work)),
                   [what = std::move(what), report = report_](std::exception_ptr e) {
                       if (e) absorb(e, what, report);
                   });
}

void Lifetime::absorb(std::exception_ptr e, const std::string& what,
                      const std::function<void(const std::string&)>& report) {
    try {
        std::rethrow_exception(e);
    } catch (const Ended&) {
    } catch (const std::exception& ex) {
        if (report) report(what + " failed: " + ex.what());
    } catch (...) {
        if (report) report(what + " failed");
    }
}

OpError Lifetime::failure(std::exception_ptr e, OpError ended,
                          const std::function<void(const std::string&)>& report) {
    try {
        std::rethrow_exception(e);
    } catch (const Ended& gone) {
        return gone.failure.value_or(std::move(ended));
    } catch (const std::exception& ex) {
        if (report) report(ex.what());
        return {ErrorKind::Failed, ex.what()};
    } catch (...) {
    }
    if (report) report("internal error");
    return {ErrorKind::Failed, "internal error"};
}

}  // namespace corral::supervisor
