//! Every bound in the sensor, each with its reason. Hitting a limit is
//! always counted (see `stats`).
