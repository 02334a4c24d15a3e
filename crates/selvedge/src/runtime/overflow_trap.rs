//! The stack overflow trap: a task that runs off the end of its stack becomes a
//! `StackOverflow` failure instead of a `SIGSEGV` that kills the test process.
//!
//! Every task stack (corosensei's `DefaultStack`) has a guard page at its low end. Running
//! into it raises `SIGSEGV` (`SIGBUS` on some systems) while the task's stack is exhausted,
//! so our handler runs on the OS thread's alternate signal stack: std gives every thread it
//! starts one, and `prepare_thread` adds one to a thread that has none. The handler takes the
//! fault as ours only if the scheduler loop marked a task as running on this thread (`arm`),
//! the interrupted stack pointer is inside that task's stack and the faulting address is in
//! its guard page. Then corosensei's `setup_trap_handler` rewrites the interrupted registers
//! so that, once the handler returns, the coroutine discards its whole stack and returns
//! `TaskEnd::StackOverflow` to the scheduler loop, which ends the execution with the failure.
//! Any other fault goes to the action installed before ours (std's, which reports a std
//! thread's own overflow) or to the default action, so a genuine segfault still ends the
//! process as it did without selvedge.
//!
//! Invariant: the handler is async-signal-safe. It reads `ARMED` (a thread-local set before
//! the task was resumed) and the saved previous actions, writes the interrupted registers,
//! and returns or calls the previous handler; it never allocates or locks.
//!
//! Supported on Linux and macOS, x86_64 and aarch64; elsewhere `install` does nothing and an
//! overflow ends the process as before.

use std::cell::Cell;
use std::sync::{Once, OnceLock};

use corosensei::trap::CoroutineTrapHandler;

use super::task::{TaskCoroutine, TaskEnd};

/// What the handler needs to recognise and end one task's overflow.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    trap: CoroutineTrapHandler<TaskEnd>,
    /// The guard page: `[guard_start, guard_end)`.
    guard_start: usize,
    guard_end: usize,
    /// Below this stack address a task entering selvedge overflows at once (`ensure_headroom`).
    entry_floor: usize,
}

impl Target {
    /// `stack_limit` is the low end of the coroutine's stack mapping, where its guard page is;
    /// `stack_bytes` the size the task asked for.
    pub(crate) fn new(coroutine: &TaskCoroutine, stack_limit: usize, stack_bytes: usize) -> Target {
        let guard_end = stack_limit + page_bytes();
        Target {
            trap: coroutine.trap_handler(),
            guard_start: stack_limit,
            guard_end,
            entry_floor: guard_end + entry_headroom(stack_bytes),
        }
    }

    fn owns_fault(&self, stack_pointer: usize, address: usize) -> bool {
        self.trap.stack_ptr_in_bounds(stack_pointer)
            && (self.guard_start..self.guard_end).contains(&address)
    }
}

thread_local! {
    /// The target of the task running on this OS thread, while it runs; null otherwise. A
    /// pointer, not a copy, because it is set around every resume.
    static ARMED: Cell<*const Target> = const { Cell::new(std::ptr::null()) };
}

/// Marks `target`'s task as running on this thread until the returned value is dropped.
/// `target` is borrowed for that long, so it stays where the handler will look for it.
pub(crate) fn arm(target: &Target) -> Armed<'_> {
    ARMED.with(|a| a.set(target));
    Armed(std::marker::PhantomData)
}

/// Disarms the trap when dropped, also if resuming the task unwinds.
pub(crate) struct Armed<'a>(std::marker::PhantomData<&'a Target>);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        ARMED.with(|a| a.set(std::ptr::null()));
    }
}

/// Stack bytes that selvedge's own code at one entry point may need, allocations included: a
/// sixteenth of the task's stack, between 4 and 16 KiB, so a small stack (32 KiB is the least a
/// task may have) keeps most of itself for the task's own frames. A task with less left when it
/// enters selvedge overflows at the entry (see `ensure_headroom`).
fn entry_headroom(stack_bytes: usize) -> usize {
    (stack_bytes / 16).clamp(4 * 1024, 16 * 1024)
}

/// Called where a task enters selvedge (every access to the execution state): when the running
/// task has less than `entry_headroom` bytes of stack left, it runs into its guard page here,
/// on purpose. The overflow is then taken at a point where selvedge holds no lock, instead of
/// inside an allocation that selvedge's code would make next: the discarded stack would keep
/// the allocator's lock, and the next allocation on this OS thread would wait forever.
#[inline]
pub(crate) fn ensure_headroom() {
    if !registers::SUPPORTED {
        return;
    }
    let target = ARMED.with(Cell::get);
    if target.is_null() {
        return;
    }
    // SAFETY: `arm` keeps the target alive while the pointer is set.
    let (guard_end, entry_floor) = unsafe { ((*target).guard_end, (*target).entry_floor) };
    let marker = 0u8;
    let stack_pointer = std::hint::black_box(&marker) as *const u8 as usize;
    // Below the guard page is not this task's stack at all (code that switched stacks, as
    // `stacker` does): leave it alone rather than fault where the handler would not claim it.
    if stack_pointer < entry_floor && stack_pointer >= guard_end {
        overflow_now(guard_end - 1);
    }
}

/// Bytes of stack the running task has left above its guard page, or `None` when no task is
/// armed on this thread, the platform has no trap, or the task runs on a stack of its own
/// making: the caller then assumes none.
#[inline]
pub(crate) fn stack_left() -> Option<usize> {
    if !registers::SUPPORTED {
        return None;
    }
    let target = ARMED.with(Cell::get);
    if target.is_null() {
        return None;
    }
    // SAFETY: `arm` keeps the target alive while the pointer is set.
    let target = unsafe { &*target };
    let marker = 0u8;
    let stack_pointer = std::hint::black_box(&marker) as *const u8 as usize;
    // On a stack the task's code switched to (as `stacker` does), nothing is known.
    if !target.trap.stack_ptr_in_bounds(stack_pointer) {
        return None;
    }
    stack_pointer.checked_sub(target.guard_end)
}

#[cold]
#[inline(never)]
fn overflow_now(guard_byte: usize) {
    // SAFETY: the byte is in the running task's guard page: the read faults, and the handler
    // (which owns faults in that page while the task is armed) ends the task there. It never
    // returns.
    unsafe { std::ptr::read_volatile(guard_byte as *const u8) };
    unreachable!("a read of the guard page returned");
}

fn page_bytes() -> usize {
    static PAGE_BYTES: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE_BYTES.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// The actions for `SIGSEGV` and `SIGBUS` before ours, saved before ours is installed.
static PREVIOUS_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREVIOUS_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the fault handler for the process, once.
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    if !registers::SUPPORTED {
        return;
    }
    INSTALL.call_once(|| {
        for (signal, previous) in [
            (libc::SIGSEGV, &PREVIOUS_SEGV),
            (libc::SIGBUS, &PREVIOUS_BUS),
        ] {
            // SAFETY: plain sigaction calls; the previous action is saved before ours can run.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
                    continue;
                }
                let _ = previous.set(old);
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                // SA_ONSTACK: the faulting stack is exhausted.
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Gives this OS thread an alternate signal stack if it has none, once per thread.
pub(crate) fn prepare_thread() {
    thread_local! {
        static PREPARED: Cell<bool> = const { Cell::new(false) };
        static OWN_ALT_STACK: Cell<Option<AltStack>> = const { Cell::new(None) };
    }
    if !registers::SUPPORTED || PREPARED.with(Cell::get) {
        return;
    }
    PREPARED.with(|p| p.set(true));
    // SAFETY: querying the current alternate stack has no preconditions.
    let installed = unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current) == 0
            && current.ss_flags & libc::SS_DISABLE == 0
    };
    // One set up by std or by the user is left alone.
    if !installed {
        OWN_ALT_STACK.with(|own| own.set(AltStack::new()));
    }
}

/// An alternate signal stack this module mapped and installed for one OS thread.
struct AltStack {
    mapping: *mut libc::c_void,
    mapping_bytes: usize,
}

/// Room for the kernel's signal frame, our handler and the chained one (std's prints).
const ALT_STACK_BYTES: usize = 64 * 1024;

impl AltStack {
    fn new() -> Option<AltStack> {
        let page = page_bytes();
        let mapping_bytes = ALT_STACK_BYTES + page;
        // SAFETY: a fresh private mapping; its lowest page becomes a guard page.
        unsafe {
            let mapping = libc::mmap(
                std::ptr::null_mut(),
                mapping_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            );
            if mapping == libc::MAP_FAILED {
                return None;
            }
            let alt = AltStack {
                mapping,
                mapping_bytes,
            };
            if libc::mprotect(mapping, page, libc::PROT_NONE) != 0 {
                return None;
            }
            let stack = libc::stack_t {
                ss_sp: mapping.cast::<u8>().add(page).cast(),
                ss_flags: 0,
                ss_size: ALT_STACK_BYTES,
            };
            if libc::sigaltstack(&stack, std::ptr::null_mut()) != 0 {
                return None;
            }
            Some(alt)
        }
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: runs at thread exit, outside any signal handler; the stack is uninstalled
        // (if it is still the installed one) before it is unmapped.
        unsafe {
            let mut current: libc::stack_t = std::mem::zeroed();
            let ours = self.mapping.cast::<u8>().add(page_bytes()).cast();
            if libc::sigaltstack(std::ptr::null(), &mut current) == 0 && current.ss_sp == ours {
                let disable = libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                libc::sigaltstack(&disable, std::ptr::null_mut());
            }
            libc::munmap(self.mapping, self.mapping_bytes);
        }
    }
}

extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // `try_with` cannot fail for a const thread-local without a destructor; it is used so
    // that no panic path exists in a signal handler.
    let target = ARMED.try_with(Cell::get).unwrap_or(std::ptr::null());
    // SAFETY: a non-null pointer is to the running task's `Target`, borrowed by `arm` until
    // it is reset to null.
    if let Some(target) = unsafe { target.as_ref() } {
        // SAFETY: the kernel passes a valid siginfo and interrupted context.
        let (stack_pointer, address) = unsafe {
            (
                registers::stack_pointer(context),
                (*info).si_addr() as usize,
            )
        };
        if target.owns_fault(stack_pointer, address) {
            let _ = ARMED.try_with(|a| a.set(std::ptr::null()));
            // SAFETY: the stack pointer is inside the running task's stack, as
            // `setup_trap_handler` requires, and the registers it returns are written into the
            // interrupted context. The task is never resumed again, and what it left behind is
            // never used: the scheduler loop abandons it and poisons this thread.
            unsafe {
                let regs = target.trap.setup_trap_handler(|| TaskEnd::StackOverflow);
                registers::redirect(context, regs);
            }
            return;
        }
    }
    // SAFETY: chaining to the saved action is what the kernel would have done without us.
    unsafe { pass_on(signal, info, context) };
}

/// Hands a fault that is not a task's overflow to the action installed before ours. With no
/// handler before ours, the default action is restored and the handler returns: the faulting
/// instruction runs again and the process ends with the signal, as it did without selvedge.
unsafe fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = if signal == libc::SIGBUS {
        PREVIOUS_BUS.get()
    } else {
        PREVIOUS_SEGV.get()
    };
    let handled = previous.is_some_and(|p| super::signals::call_previous(p, signal, info, context));
    if !handled {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        libc::sigaction(signal, &default, std::ptr::null_mut());
    }
}

/// Reading and redirecting the interrupted registers, per platform (as in corosensei's own
/// trap tests).
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "x86_64"
))]
mod registers {
    use corosensei::trap::TrapHandlerRegs;

    pub(super) const SUPPORTED: bool = true;

    pub(super) unsafe fn stack_pointer(context: *mut libc::c_void) -> usize {
        let context = &*(context as *const libc::ucontext_t);
        context.uc_mcontext.gregs[libc::REG_RSP as usize] as usize
    }

    pub(super) unsafe fn redirect(context: *mut libc::c_void, regs: TrapHandlerRegs) {
        let context = &mut *(context as *mut libc::ucontext_t);
        let TrapHandlerRegs {
            rip,
            rsp,
            rbp,
            rdi,
            rsi,
        } = regs;
        let gregs = &mut context.uc_mcontext.gregs;
        gregs[libc::REG_RIP as usize] = rip as i64;
        gregs[libc::REG_RSP as usize] = rsp as i64;
        gregs[libc::REG_RBP as usize] = rbp as i64;
        gregs[libc::REG_RDI as usize] = rdi as i64;
        gregs[libc::REG_RSI as usize] = rsi as i64;
    }
}

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "aarch64"
))]
mod registers {
    use corosensei::trap::TrapHandlerRegs;

    pub(super) const SUPPORTED: bool = true;

    pub(super) unsafe fn stack_pointer(context: *mut libc::c_void) -> usize {
        let context = &*(context as *const libc::ucontext_t);
        context.uc_mcontext.sp as usize
    }

    pub(super) unsafe fn redirect(context: *mut libc::c_void, regs: TrapHandlerRegs) {
        let context = &mut *(context as *mut libc::ucontext_t);
        let TrapHandlerRegs {
            pc,
            sp,
            x0,
            x1,
            x29,
            lr,
        } = regs;
        context.uc_mcontext.pc = pc;
        context.uc_mcontext.sp = sp;
        context.uc_mcontext.regs[0] = x0;
        context.uc_mcontext.regs[1] = x1;
        context.uc_mcontext.regs[29] = x29;
        context.uc_mcontext.regs[30] = lr;
    }
}

#[cfg(all(target_vendor = "apple", target_arch = "x86_64"))]
mod registers {
    use corosensei::trap::TrapHandlerRegs;

    pub(super) const SUPPORTED: bool = true;

    pub(super) unsafe fn stack_pointer(context: *mut libc::c_void) -> usize {
        let context = &*(context as *const libc::ucontext_t);
        (*context.uc_mcontext).__ss.__rsp as usize
    }

    pub(super) unsafe fn redirect(context: *mut libc::c_void, regs: TrapHandlerRegs) {
        let context = &mut *(context as *mut libc::ucontext_t);
        let TrapHandlerRegs {
            rip,
            rsp,
            rbp,
            rdi,
            rsi,
        } = regs;
        let state = &mut (*context.uc_mcontext).__ss;
        state.__rip = rip;
        state.__rsp = rsp;
        state.__rbp = rbp;
        state.__rdi = rdi;
        state.__rsi = rsi;
    }
}

#[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
mod registers {
    use corosensei::trap::TrapHandlerRegs;

    pub(super) const SUPPORTED: bool = true;

    pub(super) unsafe fn stack_pointer(context: *mut libc::c_void) -> usize {
        let context = &*(context as *const libc::ucontext_t);
        (*context.uc_mcontext).__ss.__sp as usize
    }

    pub(super) unsafe fn redirect(context: *mut libc::c_void, regs: TrapHandlerRegs) {
        let context = &mut *(context as *mut libc::ucontext_t);
        let TrapHandlerRegs {
            pc,
            sp,
            x0,
            x1,
            x29,
            lr,
        } = regs;
        let state = &mut (*context.uc_mcontext).__ss;
        state.__pc = pc;
        state.__sp = sp;
        state.__x[0] = x0;
        state.__x[1] = x1;
        state.__fp = x29;
        state.__lr = lr;
    }
}

#[cfg(not(any(
    all(
        any(target_os = "linux", target_os = "android"),
        any(target_arch = "x86_64", target_arch = "aarch64")
    ),
    all(
        target_vendor = "apple",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ),
)))]
mod registers {
    use corosensei::trap::TrapHandlerRegs;

    pub(super) const SUPPORTED: bool = false;

    pub(super) unsafe fn stack_pointer(_context: *mut libc::c_void) -> usize {
        0
    }

    pub(super) unsafe fn redirect(_context: *mut libc::c_void, _regs: TrapHandlerRegs) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::runtime::execution::{self, ExecutionLimits};
    use crate::runtime::task::TaskSettings;
    use crate::strategy::{Random, Strategy};
    use crate::trace::FailureKind;

    fn alt_stack_of_this_thread() -> libc::stack_t {
        // SAFETY: a query with no preconditions.
        unsafe {
            let mut current: libc::stack_t = std::mem::zeroed();
            assert_eq!(libc::sigaltstack(std::ptr::null(), &mut current), 0);
            current
        }
    }

    /// Uses about `depth` KiB of stack.
    #[inline(never)]
    fn recurse(depth: usize) -> usize {
        let frame = [depth as u8; 1024];
        std::hint::black_box(&frame);
        if depth == 0 {
            return 0;
        }
        recurse(depth - 1) + usize::from(std::hint::black_box(frame[1]))
    }

    #[test]
    fn a_thread_without_an_alternate_signal_stack_gets_one_and_traps_overflows() {
        // Goal: a thread std gave no alternate signal stack (a foreign thread, or a process
        // whose fault handler was set before std's) still turns an overflow into a failure.
        std::thread::spawn(|| {
            let disable = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: nothing runs on the alternate stack while it is switched off.
            assert_eq!(
                unsafe { libc::sigaltstack(&disable, std::ptr::null_mut()) },
                0
            );
            let mut strategy = Random::new(0, 1);
            assert!(strategy.next_execution());
            let limits = ExecutionLimits {
                max_steps: 100,
                tasks: TaskSettings {
                    stack_bytes: 64 * 1024,
                    max_tasks: 10,
                    data_seed: 0,
                    spurious_wakeups: true,
                },
            };
            let body: execution::TestBody = Arc::new(|| {
                std::hint::black_box(recurse(1024));
            });
            let outcome = execution::run(
                &mut strategy,
                limits,
                &body,
                std::panic::Location::caller(),
                None,
                false,
            );
            let current = alt_stack_of_this_thread();
            assert_eq!(current.ss_flags & libc::SS_DISABLE, 0);
            assert_eq!(current.ss_size, super::ALT_STACK_BYTES);
            let failure = outcome.failure.as_ref().expect("the overflow fails");
            assert_eq!(failure.kind, FailureKind::StackOverflow);
            assert!(outcome.thread_ruined);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn an_alternate_signal_stack_std_set_up_is_left_alone() {
        // Goal: selvedge does not replace a thread's alternate signal stack (std's handler
        // and the user's may rely on theirs).
        std::thread::spawn(|| {
            let before = alt_stack_of_this_thread();
            assert_eq!(
                before.ss_flags & libc::SS_DISABLE,
                0,
                "std gives threads one"
            );
            super::prepare_thread();
            let after = alt_stack_of_this_thread();
            assert_eq!(after.ss_sp, before.ss_sp);
            assert_eq!(after.ss_size, before.ss_size);
        })
        .join()
        .unwrap();
    }
}
