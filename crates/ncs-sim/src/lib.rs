//! ncs-sim
