//! `select!` in tokio's syntax, and `pin!`; `join!` and `try_join!` are the `futures`
//! crate's (re-exported by [`crate::tokio`]), which poll in written order as well.
//!
//! `select!` polls its branches in the order they are written, every time (with or without
//! `biased;`): when several are ready at the same step, the first written wins. Which branch
//! is ready first is what the model explores: each order in which the awaited operations can
//! become ready is an interleaving of its own (a receive and a timeout due at the same virtual
//! instant, say), so every branch that can win in production wins in some schedule. tokio
//! picks a random start instead when not `biased;`; that randomness is not a schedule and is
//! not explored.

/// Waits on several futures at once and runs the handler of the first to complete, as
/// `tokio::select!`: `pattern = future (, if condition)? => handler`, an optional `biased;`
/// first and an optional `else => handler` (run when every branch is disabled). Handlers run
/// in the enclosing function, so `break`, `continue`, `return` and `?` work in them. A branch
/// whose output does not match its pattern is disabled and the others go on. Every branch
/// future is dropped before the handler runs, as in tokio: a handler may lock what a losing
/// branch waited for, or use what it borrowed.
///
/// ```
/// use selvedge::tokio::{self, sync::mpsc, time};
/// use std::time::Duration;
///
/// selvedge::model(|| {
///     let (tx, mut rx) = mpsc::channel::<u32>(1);
///     let sender = tokio::spawn(async move {
///         time::sleep(Duration::from_secs(1)).await;
///         let _ = tx.send(7).await;
///     });
///     selvedge::future::block_on(async {
///         let got = tokio::select! {
///             Some(v) = rx.recv() => Some(v),
///             _ = time::sleep(Duration::from_secs(1)) => None,
///         };
///         // Both are due at one second: the model explores both orders.
///         assert!(got == Some(7) || got.is_none());
///     });
///     selvedge::future::block_on(sender).unwrap();
/// });
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_select {
    (biased; $($rest:tt)*) => {
        $crate::__tokio_select!(@start $($rest)*)
    };
    (@start $($rest:tt)*) => {
        $crate::__tokio_select!(@parse [] [] [(0 _0) (1 _1) (2 _2) (3 _3) (4 _4) (5 _5) (6 _6) (7 _7) (8 _8) (9 _9) (10 _10) (11 _11) (12 _12) (13 _13) (14 _14) (15 _15) (16 _16) (17 _17) (18 _18) (19 _19) (20 _20) (21 _21) (22 _22) (23 _23) (24 _24) (25 _25) (26 _26) (27 _27) (28 _28) (29 _29) (30 _30) (31 _31) (32 _32) (33 _33) (34 _34) (35 _35) (36 _36) (37 _37) (38 _38) (39 _39) (40 _40) (41 _41) (42 _42) (43 _43) (44 _44) (45 _45) (46 _46) (47 _47) (48 _48) (49 _49) (50 _50) (51 _51) (52 _52) (53 _53) (54 _54) (55 _55) (56 _56) (57 _57) (58 _58) (59 _59) (60 _60) (61 _61) (62 _62) (63 _63)] $($rest)*)
    };
    // A comma left after a block handler.
    (@parse [$($b:tt)*] [$($e:tt)*] [$($c:tt)*] , $($rest:tt)*) => {
        $crate::__tokio_select!(@parse [$($b)*] [$($e)*] [$($c)*] $($rest)*)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [$($c:tt)*] else => $h:block $($rest:tt)*) => {
        $crate::__tokio_select!(@parse [$($b)*] [({ $h })] [$($c)*] $($rest)*)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [$($c:tt)*] else => $h:expr $(, $($rest:tt)*)?) => {
        $crate::__tokio_select!(@parse [$($b)*] [({ $h })] [$($c)*] $($($rest)*)?)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [($i:tt $v:ident) $($c:tt)*]
        $p:pat = $f:expr, if $cond:expr => $h:block $($rest:tt)*) => {
        $crate::__tokio_select!(@parse [$($b)* ($i $v ($p) ($f) ($cond) ({ $h }))] [$($e)*] [$($c)*] $($rest)*)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [($i:tt $v:ident) $($c:tt)*]
        $p:pat = $f:expr, if $cond:expr => $h:expr $(, $($rest:tt)*)?) => {
        $crate::__tokio_select!(@parse [$($b)* ($i $v ($p) ($f) ($cond) ({ $h }))] [$($e)*] [$($c)*] $($($rest)*)?)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [($i:tt $v:ident) $($c:tt)*]
        $p:pat = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__tokio_select!(@parse [$($b)* ($i $v ($p) ($f) (true) ({ $h }))] [$($e)*] [$($c)*] $($rest)*)
    };
    (@parse [$($b:tt)*] [$($e:tt)*] [($i:tt $v:ident) $($c:tt)*]
        $p:pat = $f:expr => $h:expr $(, $($rest:tt)*)?) => {
        $crate::__tokio_select!(@parse [$($b)* ($i $v ($p) ($f) (true) ({ $h }))] [$($e)*] [$($c)*] $($($rest)*)?)
    };
    (@parse [] [$($e:tt)*] [$($c:tt)*]) => {
        ::core::compile_error!("`select!` needs at least one branch: `pattern = future => handler`")
    };
    (@parse [$(($i:tt $v:ident ($p:pat) ($f:expr) ($cond:expr) ($h:tt)))*] [$(($else:tt))?] [$($c:tt)*]) => {{
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum __SelectOutput<$($v,)*> {
            $($v($v),)*
            __Disabled,
        }
        let mut __disabled: u64 = 0;
        $(
            if !$cond {
                __disabled |= 1u64 << $i;
            }
        )*
        // The branch futures live in this block only: as in tokio, every one of them is
        // dropped before the winning handler runs, so a losing branch gives back what it was
        // granted (a lock, permits, a message) and borrows nothing the handler uses.
        let __output = {
            $(
                let mut $v = ::core::pin::pin!($f);
            )*
            ::core::future::poll_fn(|__cx| {
                let mut __pending = false;
                $(
                    if __disabled & (1u64 << $i) == 0 {
                        match ::core::future::Future::poll($v.as_mut(), __cx) {
                            ::core::task::Poll::Ready(__value) => {
                                __disabled |= 1u64 << $i;
                                #[allow(unreachable_patterns, unused_variables, unused_mut)]
                                match &__value {
                                    $p => {
                                        return ::core::task::Poll::Ready(__SelectOutput::$v(__value));
                                    }
                                    _ => {}
                                }
                            }
                            ::core::task::Poll::Pending => __pending = true,
                        }
                    }
                )*
                if __pending {
                    ::core::task::Poll::Pending
                } else {
                    ::core::task::Poll::Ready(__SelectOutput::__Disabled)
                }
            })
            .await
        };
        #[allow(unreachable_patterns, unused_variables)]
        match __output {
            $(__SelectOutput::$v($p) => $h,)*
            __SelectOutput::__Disabled => $crate::__tokio_select!(@else $($else)?),
            _ => ::core::unreachable!("a `select!` branch's output matched its pattern"),
        }
    }};
    (@else) => {
        ::core::panic!(
            "all branches of a `select!` are disabled and there is no `else` branch: add \
             `else => ..` for the case where no branch can complete"
        )
    };
    (@else $h:tt) => {
        $h
    };
    ($($rest:tt)*) => {
        $crate::__tokio_select!(@start $($rest)*)
    };
}

/// Pins futures on the stack in place, as `tokio::pin!`: `pin!(fut);` shadows `fut` with a
/// `Pin<&mut _>` of it (for `select!` loops that poll one future many times).
///
/// ```
/// use selvedge::tokio;
///
/// selvedge::model(|| {
///     selvedge::future::block_on(async {
///         let sleep = tokio::time::sleep(std::time::Duration::from_secs(1));
///         tokio::pin!(sleep);
///         sleep.as_mut().await;
///     });
/// });
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __tokio_pin {
    ($($x:ident),* $(,)?) => {
        $(
            let mut $x = $x;
            #[allow(unused_mut)]
            let mut $x = unsafe { ::core::pin::Pin::new_unchecked(&mut $x) };
        )*
    };
    ($(let $x:ident = $init:expr;)*) => {
        $(
            let $x = $init;
            $crate::__tokio_pin!($x);
        )*
    };
}
