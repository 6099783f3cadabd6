!> Kinds, physical constants and status codes shared by every pysoc kernel.
!>
!> Status codes are returned per site by every kernel entry point (never `stop`,
!> never a print). pysoc/_status.py mirrors this table and is tested against it.
module soc_kinds
  use, intrinsic :: iso_fortran_env, only: real64, int32
  implicit none
  private

  integer, parameter, public :: dp = real64   !< working real kind
  integer, parameter, public :: ip = int32    !< integer kind at the f2py boundary

  real(dp), parameter, public :: tfrz = 273.15_dp          !< freezing point (K)
  real(dp), parameter, public :: days_per_year = 365.0_dp  !< model year (d)
  !> Days of each calendar month, Jan..Dec (no leap years; spec M-6).
  real(dp), parameter, public :: days_in_month(12) = [31._dp, 28._dp, 31._dp, 30._dp, 31._dp, &
       30._dp, 31._dp, 31._dp, 30._dp, 31._dp, 30._dp, 31._dp]

  ! ---- status codes (keep in sync with pysoc/_status.py) ----
  integer(ip), parameter, public :: SOC_OK = 0               !< success
  integer(ip), parameter, public :: SOC_ERR_SHAPE = 1        !< inconsistent dimensions
  integer(ip), parameter, public :: SOC_ERR_PARAM = 2        !< parameter outside its physical domain
  integer(ip), parameter, public :: SOC_ERR_FORCING = 3      !< forcing outside its physical domain / NaN
  integer(ip), parameter, public :: SOC_ERR_SINGULAR = 4     !< singular or numerically singular system
  integer(ip), parameter, public :: SOC_ERR_NOT_CONVERGED = 5 !< iterative solver did not converge
  integer(ip), parameter, public :: SOC_ERR_INVALID = 6      !< solution exists but is not physical (model-specific reason)
  integer(ip), parameter, public :: SOC_ERR_NONFINITE = 7    !< non-finite number in the result
end module soc_kinds
