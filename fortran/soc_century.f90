!> CENTURY 4.x monthly ecosystem carbon model, carbon only (spec models.md sec. 0.2 and sec. 1,
!> century_production.md; Zhao et al. 2022, seed 000). Implemented from the equations; no
!> reference code is used (spec P-2, P-3).
!>
!> Litter/SOM pools (g C m-2), project order (8-pool order of models.md sec. 1.2, then surface SOM2):
!>   1 surface structural  2 surface metabolic  3 soil structural  4 soil metabolic
!>   5 surface SOM1        6 soil SOM1          7 soil SOM2       8 SOM3
!>   9 surface SOM2 (Century 4.6 / DayCent layout; empty when switched off)
!> Within a decomposition sub-step (dtm = 1/(12 NTSPM) yr) every flow is computed from the
!> state at the start of the sub-step (explicit Euler):  X <- X + dtm A K(t) X,
!> A: transfer matrix (-1 on the diagonal, transfer fractions off the diagonal), K: rates (yr-1).
!>
!> Flows of the 9-pool layout (F = C decomposed from the donor in the sub-step,
!> L = lignin fraction of the structural pool):
!>   1 -> 9: F L (1-RSPLIG)          1 -> 5: F (1-L)(1-PS1CO2(1))     rest CO2
!>   2 -> 5: F (1-PMCO2(1))                                           rest CO2
!>   3 -> 7: F L (1-RSPLIG)          3 -> 6: F (1-L)(1-PS1CO2(2))     rest CO2
!>   4 -> 6: F (1-PMCO2(2))                                           rest CO2
!>   5 -> 9: F (1-p1co2(1)), p1co2(1) = P1CO2A(1) + P1CO2B(1) sand    rest CO2
!>   6 -> 8: F fps1s3 (1 + ANIMPT (1-anerb)); leaching F orglch linten; CO2 F p1co2(2),
!>           p1co2(2) = P1CO2A(2) + P1CO2B(2) sand; 6 -> 7: remainder
!>   7 -> 8: F fps2s3 (1 + ANIMPT (1-anerb)); CO2 F P2CO2(2); 7 -> 6: remainder
!>   8 -> 6: F (1 - P3CO2 anerb); CO2 F P3CO2 anerb
!>   9: decomposition at DEC5(1) agdefac: CO2 F P2CO2(1), 9 -> 5 the rest (DayCent: surface
!>      SOM2 feeds surface SOM1, no flow to SOM3); mixing 9 -> 7 at CMIX agdefac (no CO2).
!> With surface SOM2 off the receivers 9 of donors 1 and 5 become pool 7 (soil SOM2), pool 9
!> stays empty, and the kernel is exactly the 8-pool Century 4.5 layout.
!>
!> State vector (nstate = 23): 1..9 pools; 10 aglivc, 11 bglivc, 12 stdedc (g C m-2);
!> 13, 14 strlig surface / soil (-); 15 snow, 16 snlq (cm); 17..20 asmos(1..4), 21 holding tank
!> (cm); 22 avh2o(1), 23 avh2o(3) (cm, end of the previous month).
module soc_century
  use soc_kinds, only: dp, ip, SOC_OK, SOC_ERR_PARAM, SOC_ERR_FORCING, SOC_ERR_SHAPE, &
       SOC_ERR_SINGULAR, SOC_ERR_NOT_CONVERGED, SOC_ERR_INVALID, SOC_ERR_NONFINITE
  use soc_solvers, only: dense_lu_solve
  use soc_century_production
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  implicit none
  private
  public :: century_check_params, century_check_site, century_check_forcing, century_site_consts, &
       century_som_rates, century_som_fractions, century_som_flows, century_som_matrix, &
       century_som_steady, century_som_run, century_run, century_spinup_classic, &
       century_spinup_fast, century_initial_state

  integer, parameter, public :: cen_npool = 9, cen_nstate = 23, cen_npar = 84, cen_nsite = 13, &
       cen_nopt = 8, cen_nout = 24, cen_nsc = 20, cen_nfr = 16, &
       cen_nmap = 12

  ! ---- parameter vector (physical values); 1..24 = the calibrated set of seed 000 Table 1 ----
  integer, parameter, public :: p_prdx1 = 1, p_ppdf1 = 2, p_ppdf2 = 3, p_ppdf3 = 4, p_ppdf4 = 5, &
       p_pprpts3 = 6, p_fsdeth1 = 7, p_fallrt = 8, p_rdr = 9, p_dec3_1 = 10, p_dec3_2 = 11, &
       p_dec4 = 12, p_dec5_1 = 13, p_dec5_2 = 14, p_teff1 = 15, p_teff2 = 16, p_teff3 = 17, &
       p_p1co2a_1 = 18, p_p1co2a_2 = 19, p_p1co2b_1 = 20, p_p1co2b_2 = 21, p_p2co2_1 = 22, &
       p_p2co2_2 = 23, p_p3co2 = 24, &
       p_teff4 = 25, p_dec1_1 = 26, p_dec1_2 = 27, p_dec2_1 = 28, p_dec2_2 = 29, p_pligst1 = 30, &
       p_pligst2 = 31, p_rsplig = 32, p_ps1co2_1 = 33, p_ps1co2_2 = 34, p_pmco2_1 = 35, &
       p_pmco2_2 = 36, p_ps1s3_1 = 37, p_ps1s3_2 = 38, p_ps2s3_1 = 39, p_ps2s3_2 = 40, &
       p_peftxa = 41, p_peftxb = 42, p_spl1 = 43, p_spl2 = 44, p_strmax1 = 45, p_strmax2 = 46, &
       p_aneref1 = 47, p_aneref2 = 48, p_aneref3 = 49, p_animpt = 50, p_omlech1 = 51, &
       p_omlech2 = 52, p_omlech3 = 53, p_cmix = 54, &
       p_pprpts1 = 55, p_pprpts2 = 56, p_fsdeth2 = 57, p_fsdeth3 = 58, p_fsdeth4 = 59, &
       p_rtdtmp = 60, p_biok5 = 61, p_pmxbio = 62, p_pmxtmp = 63, p_pmntmp = 64, p_elitst = 65, &
       p_agppa = 66, p_agppb = 67, p_bgppa = 68, p_bgppb = 69, p_cfrtcw1 = 70, p_cfrtcw2 = 71, &
       p_cfrtcn2 = 72, p_fligni11 = 73, p_fligni21 = 74, p_fligni12 = 75, p_fligni22 = 76, &
       p_cnres1 = 77, p_cnres2 = 78, p_deck5 = 79, p_fwloss1 = 80, p_fwloss2 = 81, p_fwloss4 = 82, &
       p_tmelt1 = 83, p_tmelt2 = 84

  ! ---- site vector ----
  integer, parameter, public :: s_lat = 1, s_elev = 2, s_sand = 3, s_clay = 4, s_bulkd = 5, &
       s_ph = 6, s_somsc = 7, s_drain = 8, s_fracro = 9, s_precro = 10, s_stormf = 11, &
       s_basef = 12, s_senm = 13

  ! ---- integer options ----
  integer, parameter, public :: o_surf2 = 1, o_ph = 2, o_pet = 3, o_frtcindx = 4, o_swflag = 5, &
       o_leach = 6, o_bioflg = 7, o_ntspm = 8

  ! ---- state vector ----
  integer, parameter, public :: x_aglivc = 10, x_bglivc = 11, x_stdedc = 12, x_strlig1 = 13, &
       x_strlig2 = 14, x_snow = 15, x_snlq = 16, x_asmos1 = 17, x_tank = 21, x_avh2o1 = 22, &
       x_avh2o3 = 23

  ! ---- monthly outputs ----
  integer, parameter, public :: y_npp = 1, y_rh = 2, y_nep = 3, y_leach = 4, y_npp_ag = 5, &
       y_npp_bg = 6, y_pet = 7, y_aet = 8, y_defac = 9, y_tfunc = 10, y_wfunc = 11, y_stemp = 12, &
       y_ctemp = 13, y_rprpet = 14, y_h2ogef = 15, y_potprd = 16, y_shoot_death = 17, &
       y_fall = 18, y_root_death = 19, y_outflow = 20, y_runoff = 21, y_evap = 22, y_tran = 23, &
       y_melt = 24

  ! ---- site constants sc(:) ----
  integer, parameter :: c_wc = 1, c_eftext = 2, c_p1co2_1 = 3, c_p1co2_2 = 4, c_fps1s3 = 5, &
       c_fps2s3 = 6, c_orglch = 7, c_phs = 8, c_phm = 9, c_ph3 = 10, c_thfc = 11, c_thwp = 15
  ! thfc(1..4) = sc(11:14), thwp(1..4) = sc(15:18)

  ! ---- routing fractions fr(:) ----
  integer, parameter :: f_lig1 = 1, f_lig2 = 2, f_rsplig = 3, f_ps1co2_1 = 4, f_ps1co2_2 = 5, &
       f_pmco2_1 = 6, f_pmco2_2 = 7, f_p1co2_1 = 8, f_p1co2_2 = 9, f_13 = 10, f_leach = 11, &
       f_p2co2_2 = 12, f_23 = 13, f_p3co2 = 14, f_p2co2_1 = 15, f_mix = 16

contains

  ! =====================================================================================
  ! checks
  ! =====================================================================================

  !> Physical-domain check of a parameter vector (not the calibration prior), spec P16.
  pure integer(ip) function century_check_params(par) result(status)
    real(dp), intent(in) :: par(cen_npar)
    status = SOC_OK
    if (.not. all(ieee_is_finite(par))) then
      status = SOC_ERR_PARAM; return
    end if
    if (par(p_prdx1) < 0) status = SOC_ERR_PARAM
    if (par(p_ppdf2) <= par(p_ppdf1) .or. par(p_ppdf3) <= 0 .or. par(p_ppdf4) <= 0) status = SOC_ERR_PARAM
    if (out01(par(p_fsdeth1)) .or. out01(par(p_fallrt)) .or. out01(par(p_rdr)) .or. &
         out01(par(p_fsdeth2)) .or. out01(par(p_fsdeth3))) status = SOC_ERR_PARAM
    if (any(par([p_dec3_1, p_dec3_2, p_dec4, p_dec5_1, p_dec5_2, p_dec1_1, p_dec1_2, p_dec2_1, &
         p_dec2_2, p_cmix]) < 0)) status = SOC_ERR_PARAM
    ! the temperature function must increase through 30 degC and be positive there
    if (par(p_teff3) <= 0 .or. par(p_teff4) <= 0) status = SOC_ERR_PARAM
    if (catanf(30.0_dp, par(p_teff1), par(p_teff2), par(p_teff3), par(p_teff4)) <= 0) status = SOC_ERR_PARAM
    if (out01(par(p_p1co2a_1)) .or. out01(par(p_p1co2a_2)) .or. out01(par(p_p2co2_1)) .or. &
         out01(par(p_p2co2_2)) .or. out01(par(p_p3co2)) .or. out01(par(p_rsplig)) .or. &
         out01(par(p_ps1co2_1)) .or. out01(par(p_ps1co2_2)) .or. out01(par(p_pmco2_1)) .or. &
         out01(par(p_pmco2_2))) status = SOC_ERR_PARAM
    if (out01(par(p_p1co2a_1) + par(p_p1co2b_1)) .or. out01(par(p_p1co2a_2) + par(p_p1co2b_2)) &
         .or. par(p_p1co2b_1) < 0 .or. par(p_p1co2b_2) < 0) status = SOC_ERR_PARAM
    if (any(par([p_ps1s3_1, p_ps1s3_2, p_ps2s3_1, p_ps2s3_2, p_peftxa, p_peftxb, p_pligst1, &
         p_pligst2, p_spl2, p_animpt, p_omlech1, p_omlech2]) < 0)) status = SOC_ERR_PARAM
    if (out01(par(p_spl1)) .or. par(p_strmax1) <= 0 .or. par(p_strmax2) <= 0) status = SOC_ERR_PARAM
    if (out01(par(p_aneref3)) .or. par(p_aneref2) <= par(p_aneref1) .or. par(p_omlech3) <= 0) &
         status = SOC_ERR_PARAM
    if (par(p_pprpts3) <= par(p_pprpts1) .or. par(p_pprpts2) < 0) status = SOC_ERR_PARAM
    if (par(p_fsdeth4) < 0 .or. par(p_biok5) <= 0 .or. par(p_pmxbio) <= 0 .or. par(p_elitst) < 0) &
         status = SOC_ERR_PARAM
    if (out01(par(p_cfrtcw1)) .or. out01(par(p_cfrtcw2)) .or. out01(par(p_cfrtcn2))) status = SOC_ERR_PARAM
    if (par(p_cnres1) <= 0 .or. par(p_cnres2) <= 0 .or. par(p_deck5) <= 0) status = SOC_ERR_PARAM
    if (out01(par(p_fwloss1)) .or. out01(par(p_fwloss2)) .or. par(p_fwloss4) <= 0 .or. &
         par(p_tmelt2) < 0) status = SOC_ERR_PARAM
  contains
    pure logical function out01(v)
      real(dp), intent(in) :: v
      out01 = v < 0.0_dp .or. v > 1.0_dp
    end function out01
  end function century_check_params

  !> Site vector and options check.
  pure integer(ip) function century_check_site(site, opt) result(status)
    real(dp), intent(in) :: site(cen_nsite)
    integer(ip), intent(in) :: opt(cen_nopt)
    status = SOC_OK
    if (.not. all(ieee_is_finite(site))) then
      status = SOC_ERR_FORCING; return
    end if
    if (abs(site(s_lat)) > 89.0_dp .or. site(s_sand) < 0 .or. site(s_clay) < 0 .or. &
         site(s_sand) + site(s_clay) > 1.0_dp .or. site(s_bulkd) <= 0 .or. site(s_ph) <= 0 .or. &
         site(s_ph) > 14 .or. site(s_somsc) < 0 .or. site(s_drain) < 0 .or. site(s_drain) > 1 .or. &
         site(s_fracro) < 0 .or. site(s_fracro) > 1 .or. site(s_precro) < 0 .or. &
         site(s_stormf) < 0 .or. site(s_stormf) > 1 .or. site(s_basef) < 0 .or. &
         site(s_basef) > 1 .or. site(s_senm) < 0 .or. site(s_senm) > 12 .or. &
         site(s_elev) < -500 .or. site(s_elev) > 9000) status = SOC_ERR_FORCING
    if (opt(o_surf2) < 0 .or. opt(o_surf2) > 1 .or. opt(o_ph) < 0 .or. opt(o_ph) > 1 .or. &
         opt(o_pet) < 0 .or. opt(o_pet) > 1 .or. opt(o_frtcindx) < 0 .or. opt(o_frtcindx) > 1 .or. &
         opt(o_swflag) < 1 .or. opt(o_swflag) > 4 .or. opt(o_leach) < 0 .or. opt(o_leach) > 1 .or. &
         opt(o_bioflg) < 0 .or. opt(o_bioflg) > 1 .or. opt(o_ntspm) < 1 .or. opt(o_ntspm) > 100) &
         status = SOC_ERR_SHAPE
  end function century_check_site

  !> Monthly climate check: finite, tmin <= tmax, -80 <= T <= 60 degC, prec >= 0, whole years.
  pure integer(ip) function century_check_forcing(nmon, tmax, tmin, prec) result(status)
    integer, intent(in) :: nmon
    real(dp), intent(in) :: tmax(nmon), tmin(nmon), prec(nmon)
    status = SOC_OK
    if (nmon < 12 .or. mod(nmon, 12) /= 0) then
      status = SOC_ERR_SHAPE; return
    end if
    if (.not. (all(ieee_is_finite(tmax)) .and. all(ieee_is_finite(tmin)) .and. &
         all(ieee_is_finite(prec)))) then
      status = SOC_ERR_FORCING; return
    end if
    if (any(tmin > tmax) .or. any(prec < 0) .or. any(tmin < -80.0_dp) .or. any(tmax > 60.0_dp)) &
         status = SOC_ERR_FORCING
  end function century_check_forcing

  ! =====================================================================================
  ! litter / SOM kernel
  ! =====================================================================================

  !> Texture, pH and water-holding constants of a site (sc(:), fixed during a run).
  pure subroutine century_site_consts(par, site, opt, sc, status)
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite)
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(out) :: sc(cen_nsc)
    integer(ip), intent(out) :: status
    real(dp) :: thfc(cen_nlayer), thwp(cen_nlayer), sand, clay, ph
    status = SOC_OK
    sc = 0.0_dp
    sand = site(s_sand); clay = site(s_clay); ph = site(s_ph)
    sc(c_eftext) = par(p_peftxa) + par(p_peftxb) * sand
    sc(c_p1co2_1) = par(p_p1co2a_1) + par(p_p1co2b_1) * sand
    sc(c_p1co2_2) = par(p_p1co2a_2) + par(p_p1co2b_2) * sand
    sc(c_fps1s3) = par(p_ps1s3_1) + par(p_ps1s3_2) * clay
    sc(c_fps2s3) = par(p_ps2s3_1) + par(p_ps2s3_2) * clay
    sc(c_orglch) = par(p_omlech1) + par(p_omlech2) * sand
    if (opt(o_ph) == 1) then   ! pH effects (Century 4.7 / DayCent), clipped to [0, 1]
      sc(c_phs) = min(1.0_dp, max(0.0_dp, catanf(ph, 4.0_dp, 0.5_dp, 1.1_dp, 0.7_dp)))
      sc(c_phm) = min(1.0_dp, max(0.0_dp, catanf(ph, 4.8_dp, 0.5_dp, 1.14_dp, 0.7_dp)))
      sc(c_ph3) = min(1.0_dp, max(0.0_dp, catanf(ph, 3.0_dp, 0.5_dp, 1.1_dp, 0.7_dp)))
    else
      sc(c_phs) = 1.0_dp; sc(c_phm) = 1.0_dp; sc(c_ph3) = 1.0_dp
    end if
    call soil_water_props(int(opt(o_swflag)), sand, clay, site(s_bulkd), site(s_somsc), thfc, thwp)
    sc(c_thfc:c_thfc + 3) = thfc
    sc(c_thwp:c_thwp + 3) = thwp
    sc(c_wc) = thfc(1) - thwp(1)
    if (any(thwp <= 0.0_dp) .or. any(thfc <= thwp) .or. any(thfc >= 1.0_dp)) status = SOC_ERR_FORCING
    ! production water line must increase (spec P3)
    if (par(p_pprpts3) <= par(p_pprpts1) + par(p_pprpts2) * sc(c_wc)) status = SOC_ERR_PARAM
    ! soil SOM1 and SOM2 partitions must leave a non-negative remainder (anerb >= ANEREF(3))
    if (sc(c_p1co2_2) + sc(c_fps1s3) * (1.0_dp + par(p_animpt) * (1.0_dp - par(p_aneref3))) &
         + sc(c_orglch) * opt(o_leach) > 1.0_dp) status = SOC_ERR_PARAM
    if (par(p_p2co2_2) + sc(c_fps2s3) * (1.0_dp + par(p_animpt) * (1.0_dp - par(p_aneref3))) &
         > 1.0_dp) status = SOC_ERR_PARAM
  end subroutine century_site_consts

  !> Decomposition rates k(9) (yr-1) before the content caps (spec 1.4), with
  !> agdefac = bgdefac = defac (4.5).
  pure subroutine century_som_rates(par, sc, surf2, defac, anerb, strlig, k)
    real(dp), intent(in) :: par(cen_npar), sc(cen_nsc), defac, anerb, strlig(2)
    integer, intent(in) :: surf2
    real(dp), intent(out) :: k(cen_npool)
    k(1) = par(p_dec1_1) * defac * exp(-par(p_pligst1) * strlig(1)) * sc(c_phs)
    k(2) = par(p_dec2_1) * defac * sc(c_phm)
    k(3) = par(p_dec1_2) * defac * exp(-par(p_pligst2) * strlig(2)) * anerb * sc(c_phs)
    k(4) = par(p_dec2_2) * defac * anerb * sc(c_phm)
    k(5) = par(p_dec3_1) * defac * sc(c_phs)
    k(6) = par(p_dec3_2) * defac * sc(c_eftext) * anerb * sc(c_phm)
    k(7) = par(p_dec5_2) * defac * anerb * sc(c_phs)
    k(8) = par(p_dec4) * defac * anerb * sc(c_ph3)
    if (surf2 == 1) then
      k(9) = par(p_dec5_1) * defac * sc(c_phs) + par(p_cmix) * defac
    else
      k(9) = 0.0_dp
    end if
  end subroutine century_som_rates

  !> Routing fractions fr(:) of the flows (spec 1.5; DayCent for the surface SOM2).
  pure subroutine century_som_fractions(par, sc, anerb, linten, strlig, fr)
    real(dp), intent(in) :: par(cen_npar), sc(cen_nsc), anerb, linten, strlig(2)
    real(dp), intent(out) :: fr(cen_nfr)
    real(dp) :: kdec, kmix
    fr(f_lig1) = strlig(1)
    fr(f_lig2) = strlig(2)
    fr(f_rsplig) = par(p_rsplig)
    fr(f_ps1co2_1) = par(p_ps1co2_1)
    fr(f_ps1co2_2) = par(p_ps1co2_2)
    fr(f_pmco2_1) = par(p_pmco2_1)
    fr(f_pmco2_2) = par(p_pmco2_2)
    fr(f_p1co2_1) = sc(c_p1co2_1)
    fr(f_p1co2_2) = sc(c_p1co2_2)
    fr(f_13) = sc(c_fps1s3) * (1.0_dp + par(p_animpt) * (1.0_dp - anerb))
    fr(f_leach) = sc(c_orglch) * linten
    fr(f_p2co2_2) = par(p_p2co2_2)
    fr(f_23) = sc(c_fps2s3) * (1.0_dp + par(p_animpt) * (1.0_dp - anerb))
    fr(f_p3co2) = par(p_p3co2) * anerb
    fr(f_p2co2_1) = par(p_p2co2_1)
    kdec = par(p_dec5_1) * sc(c_phs)
    kmix = par(p_cmix)
    if (kdec + kmix > 0.0_dp) then
      fr(f_mix) = kmix / (kdec + kmix)
    else
      fr(f_mix) = 0.0_dp
    end if
  end subroutine century_som_fractions

  !> Flow rates: dy = A diag(kk) y (g C m-2 yr-1), respiration co2 and leaching (scalars).
  pure subroutine century_som_flows(surf2, kk, fr, y, dy, co2, leach)
    integer, intent(in) :: surf2
    real(dp), intent(in) :: kk(cen_npool), fr(cen_nfr), y(cen_npool)
    real(dp), intent(out) :: dy(cen_npool), co2, leach
    real(dp) :: f(cen_npool), l, r13, rl
    integer :: is2s
    f = kk * y
    dy = -f
    is2s = 7
    if (surf2 == 1) is2s = 9
    ! surface structural
    l = fr(f_lig1)
    dy(is2s) = dy(is2s) + f(1) * l * (1.0_dp - fr(f_rsplig))
    dy(5) = dy(5) + f(1) * (1.0_dp - l) * (1.0_dp - fr(f_ps1co2_1))
    co2 = f(1) * (l * fr(f_rsplig) + (1.0_dp - l) * fr(f_ps1co2_1))
    ! surface metabolic
    dy(5) = dy(5) + f(2) * (1.0_dp - fr(f_pmco2_1))
    co2 = co2 + f(2) * fr(f_pmco2_1)
    ! soil structural
    l = fr(f_lig2)
    dy(7) = dy(7) + f(3) * l * (1.0_dp - fr(f_rsplig))
    dy(6) = dy(6) + f(3) * (1.0_dp - l) * (1.0_dp - fr(f_ps1co2_2))
    co2 = co2 + f(3) * (l * fr(f_rsplig) + (1.0_dp - l) * fr(f_ps1co2_2))
    ! soil metabolic
    dy(6) = dy(6) + f(4) * (1.0_dp - fr(f_pmco2_2))
    co2 = co2 + f(4) * fr(f_pmco2_2)
    ! surface SOM1
    dy(is2s) = dy(is2s) + f(5) * (1.0_dp - fr(f_p1co2_1))
    co2 = co2 + f(5) * fr(f_p1co2_1)
    ! soil SOM1
    r13 = f(6) * fr(f_13)
    rl = f(6) * fr(f_leach)
    dy(8) = dy(8) + r13
    dy(7) = dy(7) + f(6) * (1.0_dp - fr(f_p1co2_2) - fr(f_13) - fr(f_leach))
    co2 = co2 + f(6) * fr(f_p1co2_2)
    leach = rl
    ! soil SOM2
    dy(8) = dy(8) + f(7) * fr(f_23)
    dy(6) = dy(6) + f(7) * (1.0_dp - fr(f_p2co2_2) - fr(f_23))
    co2 = co2 + f(7) * fr(f_p2co2_2)
    ! SOM3
    dy(6) = dy(6) + f(8) * (1.0_dp - fr(f_p3co2))
    co2 = co2 + f(8) * fr(f_p3co2)
    ! surface SOM2: decomposition to surface SOM1 and mixing into soil SOM2
    if (surf2 == 1) then
      dy(7) = dy(7) + f(9) * fr(f_mix)
      dy(5) = dy(5) + f(9) * (1.0_dp - fr(f_mix)) * (1.0_dp - fr(f_p2co2_1))
      co2 = co2 + f(9) * (1.0_dp - fr(f_mix)) * fr(f_p2co2_1)
    end if
  end subroutine century_som_flows

  !> The matrix A K (yr-1) of the linear litter/SOM system (column j: flows per unit C of pool j).
  pure subroutine century_som_matrix(surf2, kk, fr, ak)
    integer, intent(in) :: surf2
    real(dp), intent(in) :: kk(cen_npool), fr(cen_nfr)
    real(dp), intent(out) :: ak(cen_npool, cen_npool)
    real(dp) :: e(cen_npool), co2, leach
    integer :: j
    do j = 1, cen_npool
      e = 0.0_dp
      e(j) = 1.0_dp
      call century_som_flows(surf2, kk, fr, e, ak(:, j), co2, leach)
    end do
  end subroutine century_som_matrix

  !> Steady state of the linear litter/SOM system with constant rates: X = -(A K)^-1 I.
  !> inputs (g C m-2 yr-1) to the 9 pools; with surf2 = 0 pool 9 is 0.
  pure subroutine century_som_steady(par, sc, surf2, defac, anerb, strlig, inputs, x, status)
    real(dp), intent(in) :: par(cen_npar), sc(cen_nsc), defac, anerb, strlig(2), inputs(cen_npool)
    integer, intent(in) :: surf2
    real(dp), intent(out) :: x(cen_npool)
    integer(ip), intent(out) :: status
    real(dp) :: kk(cen_npool), fr(cen_nfr), ak(cen_npool, cen_npool), b(cen_npool, 1)
    call century_som_rates(par, sc, surf2, defac, anerb, strlig, kk)
    call century_som_fractions(par, sc, anerb, 0.0_dp, strlig, fr)
    call century_som_matrix(surf2, kk, fr, ak)
    b(:, 1) = -inputs
    if (surf2 /= 1) then
      ak(9, :) = 0.0_dp; ak(:, 9) = 0.0_dp; ak(9, 9) = -1.0_dp; b(9, 1) = 0.0_dp
    end if
    call dense_lu_solve(cen_npool, 1, ak, b, status)
    x = b(:, 1)
    if (status /= SOC_OK) then
      x = 0.0_dp; return
    end if
    if (.not. all(ieee_is_finite(x))) then
      status = SOC_ERR_NONFINITE; return
    end if
    if (any(x < 0.0_dp)) status = SOC_ERR_INVALID
  end subroutine century_som_steady

  !> Effective rates (yr-1) for a sub-step of length dtm from the nominal rates k: the
  !> structural pools decompose min(C, STRMAX) (spec 1.4) and no pool loses more than its
  !> content in one sub-step (keff dtm <= 1).
  pure subroutine effective_rates(par, k, x, dtm, keff)
    real(dp), intent(in) :: par(cen_npar), k(cen_npool), x(cen_npool), dtm
    real(dp), intent(out) :: keff(cen_npool)
    keff = k
    if (x(1) > par(p_strmax1)) keff(1) = k(1) * par(p_strmax1) / x(1)
    if (x(3) > par(p_strmax2)) keff(3) = k(3) * par(p_strmax2) / x(3)
    keff = min(keff, 1.0_dp / dtm)
  end subroutine effective_rates

  !> Transient litter/SOM run with prescribed monthly inputs and scalars (no plants), for
  !> the regression checks. inputs(9, nmon) in g C m-2 month-1. input_mode 0: inputs added
  !> after the month's decomposition sub-steps (Century order); 1: spread evenly over the
  !> sub-steps. Returns the month-end pools x(9, nmon), respiration co2 and leaching (month-1).
  pure subroutine century_som_run(nmon, par, sc, surf2, ntspm, defac, anerb, strlig, inputs, &
       input_mode, x0, x, co2, status)
    integer, intent(in) :: nmon, surf2, ntspm, input_mode
    real(dp), intent(in) :: par(cen_npar), sc(cen_nsc), defac(nmon), anerb(nmon), strlig(2)
    real(dp), intent(in) :: inputs(cen_npool, nmon), x0(cen_npool)
    real(dp), intent(out) :: x(cen_npool, nmon), co2(nmon)
    integer(ip), intent(out) :: status
    real(dp) :: y(cen_npool), k(cen_npool), keff(cen_npool), fr(cen_nfr), dy(cen_npool), c, l, dtm
    integer :: m, s
    status = SOC_OK
    dtm = 1.0_dp / (12.0_dp * ntspm)
    y = x0
    if (surf2 /= 1) y(9) = 0.0_dp
    do m = 1, nmon
      call century_som_rates(par, sc, surf2, defac(m), anerb(m), strlig, k)
      call century_som_fractions(par, sc, anerb(m), 0.0_dp, strlig, fr)
      co2(m) = 0.0_dp
      do s = 1, ntspm
        call effective_rates(par, k, y, dtm, keff)
        call century_som_flows(surf2, keff, fr, y, dy, c, l)
        y = y + dtm * dy
        co2(m) = co2(m) + dtm * c
        if (input_mode == 1) y = y + inputs(:, m) / ntspm
      end do
      if (input_mode /= 1) y = y + inputs(:, m)
      if (surf2 /= 1) y(9) = 0.0_dp
      x(:, m) = y
    end do
    if (.not. all(ieee_is_finite(x))) status = SOC_ERR_NONFINITE
  end subroutine century_som_run

  ! =====================================================================================
  ! full model
  ! =====================================================================================

  !> Initial state: empty plant and SOM pools, lignin of the first year's litter, soil
  !> water at RWCF = rwcf0 of the available range, no snow.
  pure subroutine century_initial_state(par, sc, rwcf0, pann, state)
    real(dp), intent(in) :: par(cen_npar), sc(cen_nsc), rwcf0, pann
    real(dp), intent(out) :: state(cen_nstate)
    real(dp) :: thfc(cen_nlayer), thwp(cen_nlayer), fm, ls
    integer :: j
    state = 0.0_dp
    thfc = sc(c_thfc:c_thfc + 3); thwp = sc(c_thwp:c_thwp + 3)
    call partition_residue(plant_lignin(par(p_fligni11), par(p_fligni21), pann), par(p_cnres1), &
         par(p_spl1), par(p_spl2), fm, ls)
    state(x_strlig1) = ls
    call partition_residue(plant_lignin(par(p_fligni12), par(p_fligni22), pann), par(p_cnres2), &
         par(p_spl1), par(p_spl2), fm, ls)
    state(x_strlig2) = ls
    do j = 1, cen_nlayer
      state(x_asmos1 + j - 1) = (thwp(j) + rwcf0 * (thfc(j) - thwp(j))) * cen_adep(j)
    end do
  end subroutine century_initial_state

  !> Add a residue flux cr (g C m-2) with metabolic fraction fm and structural lignin ls to
  !> layer lyr (1 surface, 2 soil); mass-weighted structural lignin (spec 9.4).
  pure subroutine add_residue(lyr, cr, fm, ls, y, strlig)
    integer, intent(in) :: lyr
    real(dp), intent(in) :: cr, fm, ls
    real(dp), intent(inout) :: y(cen_npool), strlig
    real(dp) :: istr
    integer :: ist, ime
    if (cr <= 0.0_dp) return
    ist = 2 * lyr - 1
    ime = 2 * lyr
    istr = (1.0_dp - fm) * cr
    if (y(ist) + istr > 0.0_dp) strlig = (strlig * y(ist) + ls * istr) / (y(ist) + istr)
    y(ist) = y(ist) + istr
    y(ime) = y(ime) + fm * cr
  end subroutine add_residue

  !> Values of one calendar year needed by the monthly step: yv(1) annual precipitation (cm),
  !> yv(2), yv(3) shoot and root lignin, yv(4) Great-Plains root fraction, yv(5), yv(6)
  !> highest and lowest monthly mean temperature (Linacre PET).
  pure subroutine year_values(par, tmax, tmin, prec, yv)
    real(dp), intent(in) :: par(cen_npar), tmax(12), tmin(12), prec(12)
    real(dp), intent(out) :: yv(6)
    yv(1) = sum(prec)
    yv(2) = plant_lignin(par(p_fligni11), par(p_fligni21), yv(1))
    yv(3) = plant_lignin(par(p_fligni12), par(p_fligni22), yv(1))
    yv(4) = frac_root_gp(par(p_agppa), par(p_agppb), par(p_bgppa), par(p_bgppb), yv(1))
    yv(5) = maxval((tmax + tmin) / 2.0_dp)
    yv(6) = minval((tmax + tmin) / 2.0_dp)
  end subroutine year_values

  !> One month of the coupled model (spec century_production.md sec. 10). Updates state and,
  !> when ncol > 0, applies the same linear month map to the columns ymap(:, 1..ncol) of the
  !> 12 carbon pools (9 litter/SOM, then aglivc, bglivc, stdedc): decomposition sub-steps,
  !> death and fall with this month's fractions, and the month's growth added to column ncol
  !> (period map of the fast spin-up).
  pure subroutine century_month(par, site, opt, sc, m, sw, dl, tx, tn, prec, yv, state, out, ncol, ymap)
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), sc(cen_nsc), sw, dl, tx, tn, prec, yv(6)
    integer(ip), intent(in) :: opt(cen_nopt)
    integer, intent(in) :: m, ncol
    real(dp), intent(inout) :: state(cen_nstate), ymap(cen_nmap, ncol)
    real(dp), intent(out) :: out(cen_nout)
    real(dp) :: tave, aglivc, bglivc, stdedc, y(cen_npool), strlig(2), bio, txs, tns, stemp, ctemp, &
         pet, x, h2ogef, potprd, biof, pcropc, fracrc, npp_ag, npp_bg, aliv, alit, adead, &
         wb(wb_nwb), rprpet, stemp_d, tfunc, wfunc, defac, anerb, linten, k(cen_npool), &
         keff(cen_npool), fr(cen_nfr), dy(cen_npool), co2, lch, rh, leach, dtm, fall, rtdh, &
         rdeath, fsd, sdeath, thfc(cen_nlayer), thwp(cen_nlayer), snow, snlq, asmos(cen_nlayer + 1), &
         avh1p, avh3p, c1, l1, frd, fm_ab, ls_ab, fm_bg, ls_bg, ag, bg, sd
    logical :: senm, grow
    integer :: s, c, ntspm, surf2
    ntspm = opt(o_ntspm)
    surf2 = opt(o_surf2)
    dtm = 1.0_dp / (12.0_dp * ntspm)
    tave = (tx + tn) / 2.0_dp
    y = state(1:cen_npool)
    aglivc = state(x_aglivc); bglivc = state(x_bglivc); stdedc = state(x_stdedc)
    strlig = state(x_strlig1:x_strlig2)
    avh1p = state(x_avh2o1); avh3p = state(x_avh2o3)
    senm = nint(site(s_senm)) == m
    ! --- temperatures (spec 3.2, 3.3) ---
    bio = min(par(p_pmxbio), 2.5_dp * aglivc + 2.5_dp * stdedc + par(p_elitst) * 2.5_dp * (y(1) + y(2)))
    call surface_temps(tx, tn, bio, par(p_pmxtmp), par(p_pmntmp), txs, tns)
    stemp = stemp_daylength(txs, tns, dl)
    bio = min(par(p_pmxbio), 2.5_dp * aglivc)
    call surface_temps(tx, tn, bio, par(p_pmxtmp), par(p_pmntmp), txs, tns)
    ctemp = (txs + tns) / 2.0_dp
    ! --- PET (spec 2) ---
    if (opt(o_pet) == 1) then
      pet = pet_linacre(tx, tn, site(s_lat), site(s_elev), yv(5), yv(6), par(p_fwloss4))
    else
      pet = pet_hargreaves(tx, tn, sw, par(p_fwloss4))
    end if
    ! --- potential production (spec 5), previous-month growth water ---
    if (pet >= 0.01_dp) then
      x = (avh1p + prec) / pet
    else
      x = 0.01_dp
    end if
    h2ogef = h2ogef_of(x, par(p_pprpts1), par(p_pprpts2), par(p_pprpts3), sc(c_wc))
    potprd = gpdf(ctemp, par(p_ppdf1), par(p_ppdf2), par(p_ppdf3), par(p_ppdf4))
    biof = 1.0_dp
    if (opt(o_bioflg) == 1) biof = biof_of(aglivc, stdedc, y(1), par(p_pmxbio), par(p_biok5))
    grow = stemp > 0.0_dp .and. .not. senm
    pcropc = 0.0_dp
    if (grow) pcropc = sw * par(p_prdx1) * potprd * h2ogef * biof / 2.5_dp
    if (opt(o_frtcindx) == 1) then
      fracrc = min(0.99_dp, max(par(p_cfrtcw1) + (par(p_cfrtcw2) - par(p_cfrtcw1)) * h2ogef, &
           par(p_cfrtcn2)))
    else
      fracrc = yv(4)
    end if
    npp_bg = fracrc * pcropc
    npp_ag = pcropc - npp_bg
    ! --- water budget (spec 4.3) ---
    aliv = 2.5_dp * aglivc + 0.625_dp * pcropc
    alit = 2.5_dp * (y(1) + y(2))
    adead = 2.5_dp * stdedc
    thfc = sc(c_thfc:c_thfc + 3); thwp = sc(c_thwp:c_thwp + 3)
    snow = state(x_snow); snlq = state(x_snlq); asmos = state(x_asmos1:x_tank)
    call water_budget(prec, pet, tave, sw, aliv, adead, alit, thfc, thwp, par(p_fwloss1), &
         par(p_fwloss2), par(p_tmelt1), par(p_tmelt2), site(s_fracro), site(s_precro), &
         site(s_stormf), site(s_basef), snow, snlq, asmos, wb)
    ! --- decomposition scalars (spec W11): previous-month avh2o(3) unless melt water ---
    if (wb(wb_melt) > 0.0_dp) then
      rprpet = wb(wb_melt) / pet
    else
      rprpet = (avh3p + prec) / pet
    end if
    stemp_d = stemp
    if (snow > 0.0_dp) stemp_d = 0.0_dp
    tfunc = tcalc(stemp_d, par(p_teff1), par(p_teff2), par(p_teff3), par(p_teff4))
    wfunc = wfunc_ratio(rprpet)
    defac = max(0.0_dp, tfunc * wfunc)
    anerb = anerob_factor(rprpet, pet, site(s_drain), par(p_aneref1), par(p_aneref2), par(p_aneref3))
    linten = 0.0_dp
    if (opt(o_leach) == 1 .and. wb(wb_amov2) > 0.0_dp) &
         linten = min(1.0_dp - (par(p_omlech3) - wb(wb_amov2)) / par(p_omlech3), 1.0_dp)
    ! --- decomposition: NTSPM explicit sub-steps (spec 1.2) ---
    call century_som_rates(par, sc, surf2, defac, anerb, strlig, k)
    call century_som_fractions(par, sc, anerb, linten, strlig, fr)
    rh = 0.0_dp
    leach = 0.0_dp
    do s = 1, ntspm
      call effective_rates(par, k, y, dtm, keff)
      call century_som_flows(surf2, keff, fr, y, dy, co2, lch)
      y = y + dtm * dy
      rh = rh + dtm * co2
      leach = leach + dtm * lch
      do c = 1, ncol
        call century_som_flows(surf2, keff, fr, ymap(1:cen_npool, c), dy, c1, l1)
        ymap(1:cen_npool, c) = ymap(1:cen_npool, c) + dtm * dy
      end do
    end do
    ! --- plant death (spec 9), all from the pre-update plant state ---
    fall = par(p_fallrt) * stdedc
    frd = 0.0_dp
    if (stemp_d >= par(p_rtdtmp)) then
      rtdh = 1.0_dp - wb(wb_avh2o1) / (par(p_deck5) + wb(wb_avh2o1))
      frd = min(0.95_dp, par(p_rdr) * rtdh)
    end if
    rdeath = frd * bglivc
    if (senm) then
      fsd = par(p_fsdeth2)
    else
      fsd = par(p_fsdeth1) * (1.0_dp - wfunc)
      if (par(p_fsdeth1) < 0.4_dp .and. aglivc > par(p_fsdeth4)) fsd = fsd + par(p_fsdeth3)
    end if
    fsd = min(1.0_dp, fsd)
    sdeath = fsd * aglivc
    aglivc = aglivc - sdeath
    stdedc = stdedc + sdeath - fall
    bglivc = bglivc - rdeath
    call partition_residue(yv(2), par(p_cnres1), par(p_spl1), par(p_spl2), fm_ab, ls_ab)
    call partition_residue(yv(3), par(p_cnres2), par(p_spl1), par(p_spl2), fm_bg, ls_bg)
    call add_residue(1, fall, fm_ab, ls_ab, y, strlig(1))
    call add_residue(2, rdeath, fm_bg, ls_bg, y, strlig(2))
    do c = 1, ncol   ! the same (linear) death, fall and litter transfers on the map columns
      ag = ymap(10, c); bg = ymap(11, c); sd = ymap(12, c)
      ymap(10, c) = ag - fsd * ag
      ymap(11, c) = bg - frd * bg
      ymap(12, c) = sd + fsd * ag - par(p_fallrt) * sd
      ymap(1, c) = ymap(1, c) + (1.0_dp - fm_ab) * par(p_fallrt) * sd
      ymap(2, c) = ymap(2, c) + fm_ab * par(p_fallrt) * sd
      ymap(3, c) = ymap(3, c) + (1.0_dp - fm_bg) * frd * bg
      ymap(4, c) = ymap(4, c) + fm_bg * frd * bg
    end do
    if (ncol > 0) then
      ymap(10, ncol) = ymap(10, ncol) + npp_ag
      ymap(11, ncol) = ymap(11, ncol) + npp_bg
    end if
    ! --- growth (spec 7) ---
    aglivc = aglivc + npp_ag
    bglivc = bglivc + npp_bg
    if (surf2 /= 1) y(9) = 0.0_dp
    ! --- new state and outputs ---
    state(1:cen_npool) = y
    state(x_aglivc) = aglivc; state(x_bglivc) = bglivc; state(x_stdedc) = stdedc
    state(x_strlig1:x_strlig2) = strlig
    state(x_snow) = snow; state(x_snlq) = snlq; state(x_asmos1:x_tank) = asmos
    state(x_avh2o1) = wb(wb_avh2o1); state(x_avh2o3) = wb(wb_avh2o3)
    out(y_npp) = pcropc
    out(y_rh) = rh
    out(y_nep) = pcropc - rh
    out(y_leach) = leach
    out(y_npp_ag) = npp_ag
    out(y_npp_bg) = npp_bg
    out(y_pet) = pet
    out(y_aet) = wb(wb_evap) + wb(wb_tran)
    out(y_defac) = defac
    out(y_tfunc) = tfunc
    out(y_wfunc) = wfunc
    out(y_stemp) = stemp_d
    out(y_ctemp) = ctemp
    out(y_rprpet) = rprpet
    out(y_h2ogef) = h2ogef
    out(y_potprd) = potprd
    out(y_shoot_death) = sdeath
    out(y_fall) = fall
    out(y_root_death) = rdeath
    out(y_outflow) = wb(wb_outflow)
    out(y_runoff) = wb(wb_runoff)
    out(y_evap) = wb(wb_evap)
    out(y_tran) = wb(wb_tran)
    out(y_melt) = wb(wb_melt)
  end subroutine century_month

  !> Checks shared by the run entry points; sc is filled.
  pure subroutine check_all(nmon, par, site, opt, tmax, tmin, prec, sc, status)
    integer, intent(in) :: nmon
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), tmax(nmon), tmin(nmon), prec(nmon)
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(out) :: sc(cen_nsc)
    integer(ip), intent(out) :: status
    sc = 0.0_dp
    status = century_check_site(site, opt)
    if (status /= SOC_OK) return
    status = century_check_params(par)
    if (status /= SOC_OK) return
    status = century_check_forcing(nmon, tmax, tmin, prec)
    if (status /= SOC_OK) return
    call century_site_consts(par, site, opt, sc, status)
  end subroutine check_all

  !> Transient monthly run of the coupled model from state, over nmon months of forcing
  !> starting in January (tmax, tmin degC; prec cm month-1). states(:, m): state at the end
  !> of month m; out(:, m): monthly fluxes and diagnostics (g C m-2 month-1, cm, -).
  !> ncol > 0: period map columns propagated alongside (see century_month).
  pure subroutine century_run(nmon, par, site, opt, tmax, tmin, prec, state, states, out, &
       ncol, ymap, status)
    integer, intent(in) :: nmon, ncol
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), tmax(nmon), tmin(nmon), prec(nmon)
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(inout) :: state(cen_nstate), ymap(cen_nmap, ncol)
    real(dp), intent(out) :: states(cen_nstate, nmon), out(cen_nout, nmon)
    integer(ip), intent(out) :: status
    real(dp) :: sc(cen_nsc)
    states = 0.0_dp; out = 0.0_dp
    call check_all(nmon, par, site, opt, tmax, tmin, prec, sc, status)
    if (status /= SOC_OK) return
    if (.not. all(ieee_is_finite(state)) .or. any(state < 0.0_dp)) then
      status = SOC_ERR_FORCING; return
    end if
    call run_core(nmon, par, site, opt, sc, tmax, tmin, prec, state, states, out, ncol, ymap, .true.)
    if (.not. (all(ieee_is_finite(states)) .and. all(ieee_is_finite(out)))) status = SOC_ERR_NONFINITE
  end subroutine century_run

  !> The month loop (no checks). keep = .false. skips storing states/out (spin-up).
  pure subroutine run_core(nmon, par, site, opt, sc, tmax, tmin, prec, state, states, out, ncol, ymap, keep)
    integer, intent(in) :: nmon, ncol
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), sc(cen_nsc), tmax(nmon), tmin(nmon), prec(nmon)
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(inout) :: state(cen_nstate), ymap(cen_nmap, ncol)
    real(dp), intent(inout) :: states(cen_nstate, *), out(cen_nout, *)
    logical, intent(in) :: keep
    real(dp) :: sw(12), dl(12), yv(6), o(cen_nout)
    integer :: i, m, iy
    do m = 1, 12
      sw(m) = shwave(m, site(s_lat))
      dl(m) = daylen(m, site(s_lat))
    end do
    do i = 1, nmon
      m = mod(i - 1, 12) + 1
      if (m == 1) then
        iy = i
        call year_values(par, tmax(iy:iy + 11), tmin(iy:iy + 11), prec(iy:iy + 11), yv)
      end if
      call century_month(par, site, opt, sc, m, sw(m), dl(m), tmax(i), tmin(i), prec(i), yv, &
           state, o, ncol, ymap)
      if (keep) then
        states(:, i) = state
        out(:, i) = o
      end if
    end do
  end subroutine run_core

  !> Classic spin-up: repeat the nper-month forcing period from state until nyears years
  !> have passed (whole periods) or, with tol > 0, until the change of total litter+SOM C
  !> over one period is below tol relative. years = years simulated.
  pure subroutine century_spinup_classic(nper, par, site, opt, tmax, tmin, prec, nyears, tol, &
       state, years, status)
    integer, intent(in) :: nper, nyears
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), tmax(nper), tmin(nper), prec(nper), tol
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(inout) :: state(cen_nstate)
    integer, intent(out) :: years
    integer(ip), intent(out) :: status
    real(dp) :: sc(cen_nsc), ymap(cen_nmap, 0), dummy_s(cen_nstate, 1), dummy_o(cen_nout, 1), told
    years = 0
    call check_all(nper, par, site, opt, tmax, tmin, prec, sc, status)
    if (status /= SOC_OK) return
    if (.not. all(ieee_is_finite(state)) .or. any(state < 0.0_dp)) then
      status = SOC_ERR_FORCING; return
    end if
    do while (years < nyears)
      told = sum(state(1:cen_npool))
      call run_core(nper, par, site, opt, sc, tmax, tmin, prec, state, dummy_s, dummy_o, 0, ymap, .false.)
      years = years + nper / 12
      if (tol > 0.0_dp) then
        if (abs(sum(state(1:cen_npool)) - told) <= tol * max(1.0e-12_dp, sum(state(1:cen_npool)))) exit
      end if
    end do
    if (.not. all(ieee_is_finite(state))) status = SOC_ERR_NONFINITE
  end subroutine century_spinup_classic

  !> Fast (matrix) spin-up. Each iteration runs the coupled model over one forcing period
  !> and propagates the period map of the 12 carbon pools alongside it (X_end = M X_start + b,
  !> with the decomposition rates, death fractions, lignin and production of that period),
  !> then sets the pools to the exact periodic fixed point X* = (I - M)^-1 b. Water, snow and
  !> lignin state come from the end of the period. The outer iteration x -> X*(x) (live shoots
  !> and surface litter feed back on production, temperature and water) is accelerated by
  !> Anderson mixing (memory 5) and stops when the largest pool change is below tol x total C.
  !> Status invalid: no steady state (structural litter above STRMAX grows without bound);
  !> not converged: no periodic fixed point found in maxit periods.
  !> niter: iterations used (periods simulated).
  pure subroutine century_spinup_fast(nper, par, site, opt, tmax, tmin, prec, tol, maxit, &
       state, niter, status)
    integer, intent(in) :: nper, maxit
    real(dp), intent(in) :: par(cen_npar), site(cen_nsite), tmax(nper), tmin(nper), prec(nper), tol
    integer(ip), intent(in) :: opt(cen_nopt)
    real(dp), intent(inout) :: state(cen_nstate)
    integer, intent(out) :: niter
    integer(ip), intent(out) :: status
    integer, parameter :: mem = 5, nx = cen_nstate     ! Anderson memory, iterate size
    real(dp) :: sc(cen_nsc), ymap(cen_nmap, cen_nmap + 1), dummy_s(cen_nstate, 1), &
         dummy_o(cen_nout, 1), a(cen_nmap, cen_nmap), b(cen_nmap, 1), x(nx), g(nx), &
         f(nx), fprev(nx), gprev(nx), df(nx, mem), dg(nx, mem), w(nx), &
         nm(mem, mem), gam(mem, 1), xnew(nx), tr, ctot
    integer :: it, j, n, idx(cen_nmap), kk, q
    integer(ip) :: st2
    niter = 0
    call check_all(nper, par, site, opt, tmax, tmin, prec, sc, status)
    if (status /= SOC_OK) return
    if (.not. all(ieee_is_finite(state)) .or. any(state < 0.0_dp)) then
      status = SOC_ERR_FORCING; return
    end if
    ! unknowns of the linear period map: pools 1..8 (+ 9 with surface SOM2), aglivc, bglivc, stdedc
    n = 0
    do j = 1, cen_nmap
      if (j == 9 .and. opt(o_surf2) /= 1) cycle
      n = n + 1
      idx(n) = j
    end do
    kk = 0
    fprev = 0.0_dp; gprev = 0.0_dp; df = 0.0_dp; dg = 0.0_dp
    status = SOC_ERR_NOT_CONVERGED
    do it = 1, maxit
      niter = it
      x = state
      ymap = 0.0_dp
      do j = 1, cen_nmap
        ymap(j, j) = 1.0_dp
      end do
      call run_core(nper, par, site, opt, sc, tmax, tmin, prec, state, dummy_s, dummy_o, &
           cen_nmap + 1, ymap, .false.)
      ! periodic fixed point of this period's (linear) carbon map: (I - M) X* = b
      a = 0.0_dp
      b = 0.0_dp
      do j = 1, n
        a(j, 1:n) = -ymap(idx(j), idx(1:n))
        a(j, j) = a(j, j) + 1.0_dp
        b(j, 1) = ymap(idx(j), cen_nmap + 1)
      end do
      call dense_lu_solve(n, 1, a(1:n, 1:n), b(1:n, :), status)
      if (status /= SOC_OK) return
      if (.not. all(ieee_is_finite(b(1:n, 1)))) then
        status = SOC_ERR_NONFINITE; return
      end if
      if (any(b(1:n, 1) < -1.0e-9_dp * max(1.0_dp, sum(abs(b(1:n, 1)))))) then
        status = SOC_ERR_INVALID; return
      end if
      status = SOC_ERR_NOT_CONVERGED
      ! outer map x -> g: end-of-period water/snow/lignin state, carbon pools at X*
      g = state
      g(1:cen_nmap) = 0.0_dp
      g(idx(1:n)) = max(0.0_dp, b(1:n, 1))
      f = g - x
      ctot = max(1.0e-12_dp, sum(g(1:cen_nmap)))
      if (it > 1 .and. maxval(abs(f(1:cen_nmap))) <= tol * ctot) then
        state = g
        status = SOC_OK
        exit
      end if
      ! Anderson acceleration of x -> g (live shoots, surface litter and soil water feed
      ! back on production, temperature and water), on a scaled iterate
      w(1:cen_nmap) = 1.0_dp / ctot
      w(cen_nmap + 1:nx) = 1.0_dp / max(1.0_dp, sum(g(x_snow:x_tank)))
      w(x_strlig1:x_strlig2) = 1.0_dp
      if (it > 1) then
        if (kk == mem) then
          df(:, 1:mem - 1) = df(:, 2:mem); dg(:, 1:mem - 1) = dg(:, 2:mem)
        else
          kk = kk + 1
        end if
        df(:, kk) = f - fprev
        dg(:, kk) = g - gprev
      end if
      fprev = f
      gprev = g
      xnew = g
      if (kk > 0) then
        do q = 1, kk
          do j = 1, kk
            nm(q, j) = sum(w**2 * df(:, q) * df(:, j))
          end do
          gam(q, 1) = sum(w**2 * df(:, q) * f)
        end do
        tr = 0.0_dp
        do q = 1, kk
          tr = tr + nm(q, q)
        end do
        do q = 1, kk
          nm(q, q) = nm(q, q) + 1.0e-10_dp * tr / kk + tiny(1.0_dp)
        end do
        call dense_lu_solve(kk, 1, nm(1:kk, 1:kk), gam(1:kk, :), st2)
        if (st2 == SOC_OK) xnew = g - matmul(dg(:, 1:kk), gam(1:kk, 1))
      end if
      state = max(0.0_dp, xnew)
      state(x_strlig1:x_strlig2) = min(1.0_dp, state(x_strlig1:x_strlig2))
      if (opt(o_surf2) /= 1) state(9) = 0.0_dp
    end do
    ! no steady state exists when structural litter outgrows STRMAX: its decomposition is
    ! capped at k STRMAX, so an input above that flux accumulates without bound
    if (status == SOC_ERR_NOT_CONVERGED .and. (g(1) > par(p_strmax1) .or. g(3) > par(p_strmax2))) &
         status = SOC_ERR_INVALID
  end subroutine century_spinup_fast

end module soc_century
