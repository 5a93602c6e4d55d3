//! ncs-block
