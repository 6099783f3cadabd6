!> Test-only f2py entry point of the COMPAS kernel (pysoc._kernels.compas_probes): one
!> backward-Euler step of the soil pools of one layer. Used by tests/test_compas.py, never by
!> pysoc itself (tests/test_kernel_boundary.py checks); built unless meson -Dtest_probes=false.
!> Same conventions as api_compas.f90 (pure, `!f2py threadsafe`, sizes the soc_compas constants).

!> y, uptake, ok = soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold): one backward-Euler step
!> of the soil pools (DOC, MIC, ENZ, SOC) of one layer (for tests and diagnostics).
subroutine soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold, y, uptake, ok)
  use soc_compas, only: compas_soil_step, compas_npar
  implicit none
  real(8), intent(in) :: par(compas_npar), xi, dt, i_doc, i_mic, i_soc, yold(4)
  real(8), intent(out) :: y(4), uptake
  integer(4), intent(out) :: ok
  !f2py threadsafe
  logical :: lok
  call compas_soil_step(par, xi, dt, i_doc, i_mic, i_soc, yold, y, uptake, lok)
  ok = merge(1, 0, lok)
end subroutine soil_step
