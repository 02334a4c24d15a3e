//! `hint::spin_loop`: a scheduling point inside a model, so a spin-wait lets others run.

/// Signals a spin-wait iteration.
#[track_caller]
pub fn spin_loop() {
    if crate::runtime::in_model() {
        crate::runtime::point(crate::runtime::OpKind::SpinLoop, None);
    } else {
        std::hint::spin_loop();
    }
}
