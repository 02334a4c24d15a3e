//! Chaining to the signal handler that was installed before ours: `panic_hook.rs` (`SIGABRT`)
//! and `overflow_trap.rs` (`SIGSEGV`, `SIGBUS`) both pass on the signals that are not theirs.
//!
//! Invariant: async-signal-safe; it only calls the previous handler.

/// Calls `previous`'s handler for `signal`, as the kernel would have. Returns `false`, calling
/// nothing, when `previous` is the default action or ignores the signal: the caller then
/// restores the default its own way.
///
/// # Safety
/// Called from a signal handler for `signal`, with the `info` and `context` it was given, and
/// `previous` is the action that was installed for `signal` before ours.
pub(crate) unsafe fn call_previous(
    previous: &libc::sigaction,
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) -> bool {
    if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN {
        return false;
    }
    // SAFETY: a handler other than the two special values is a function of the kind its
    // `SA_SIGINFO` flag says.
    unsafe {
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(previous.sa_sigaction);
            f(signal, info, context);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous.sa_sigaction);
            f(signal);
        }
    }
    true
}
