//! Which primitives live in a `static`.
//!
//! A primitive has a `const fn new`, so it can live in a `static` and be used by every
//! execution, on every worker thread, and by every test of the process at the same time. Its
//! model state is per execution anyway (see `LazyObject`), but a user value stored inside the
//! primitive itself (an atomic's value, a `Mutex`'s data) is not. Whether that value can be
//! trusted is decided here, by where the primitive lives: an address inside a writable segment
//! of a loaded ELF object is a `static`, in every execution, the first one included. That keeps
//! the answer the same for an exploration and for a replay of one of its executions.
//!
//! Invariant: the answer depends on the address only, never on which executions ran before.

/// Is `address` inside a `static` (a writable segment of the executable or a loaded library)?
pub(crate) fn is_static(address: usize) -> bool {
    let segments = platform::writable_segments();
    // Sorted by start: most addresses (heap, stacks) fall outside them all at once.
    match (segments.first(), segments.last()) {
        (Some(&(lowest, _)), Some(&(_, highest))) if lowest <= address && address < highest => {
            segments
                .iter()
                .any(|&(start, end)| start <= address && address < end)
        }
        _ => false,
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use std::sync::OnceLock;

    /// `[start, end)` of every writable loadable segment, read once. Libraries opened later
    /// with `dlopen` are not seen: their statics count as heap memory (see `LazyObject`).
    pub(super) fn writable_segments() -> &'static [(usize, usize)] {
        static SEGMENTS: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
        SEGMENTS.get_or_init(|| {
            let mut segments: Vec<(usize, usize)> = Vec::new();
            // SAFETY: the callback only reads the program headers the loader hands it and
            // pushes into the Vec passed as `data`, which outlives the call.
            unsafe {
                libc::dl_iterate_phdr(
                    Some(collect),
                    &mut segments as *mut Vec<(usize, usize)> as *mut libc::c_void,
                );
            }
            segments.sort_unstable();
            segments
        })
    }

    unsafe extern "C" fn collect(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `dl_iterate_phdr` passes a valid `info` with `dlpi_phnum` headers, and
        // `data` is the Vec given above.
        let (info, segments) = unsafe { (&*info, &mut *(data as *mut Vec<(usize, usize)>)) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `i < dlpi_phnum`.
            let header = unsafe { &*info.dlpi_phdr.add(i) };
            if header.p_type == libc::PT_LOAD && header.p_flags & libc::PF_W != 0 {
                let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
                segments.push((start, start.wrapping_add(header.p_memsz as usize)));
            }
        }
        0
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    /// Elsewhere statics are not told apart from heap memory: a primitive used by more than
    /// one execution is still treated as shared from its second execution on.
    pub(super) fn writable_segments() -> &'static [(usize, usize)] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::is_static;

    static IN_DATA: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(7);

    #[test]
    fn statics_are_told_from_heap_and_stack() {
        // Goal: the one fact the per-execution value of statics relies on.
        let on_heap = Box::new(0u64);
        let on_stack = 0u64;
        if cfg!(target_os = "linux") {
            assert!(is_static(&IN_DATA as *const _ as usize));
        }
        assert!(!is_static(&*on_heap as *const u64 as usize));
        assert!(!is_static(&on_stack as *const u64 as usize));
    }
}
