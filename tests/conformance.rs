//! Every engine shipped with zerotable runs the whole conformance suite in `zerotable::testing`
//! (the engine list is `zerotable::for_each_builtin_engine!`).

zerotable::for_each_builtin_engine!(zerotable::conformance_suites);
