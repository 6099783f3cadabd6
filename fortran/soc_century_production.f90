!> CENTURY plant production and water submodel (spec century_production.md; Century 4.5
!> formulation with the documented pitfall fixes). Carbon only: nitrogen never limits.
!>
!> Units: temperature degC, water cm, carbon g C m-2, biomass g m-2 (biomass = 2.5 x C for
!> grass shoots, standing dead and surface litter), radiation langley d-1, month m = 1..12.
!> Implemented from the equations of the specification; no reference code is used.
!>
!> Soil water: cen_nlayer = 4 layers of 15 cm (0-60 cm, all of them define the growth water
!> avh2o(1) and transpire), plus a holding tank below them that feeds base flow.
module soc_century_production
  use soc_kinds, only: dp
  implicit none
  private
  public :: catanf, gpdf, shwave, daylen, pet_hargreaves, pet_linacre, surface_temps, &
       stemp_daylength, soil_water_props, h2ogef_of, biof_of, frac_root_gp, partition_residue, &
       plant_lignin, wfunc_ratio, tcalc, anerob_factor, water_budget

  real(dp), parameter, public :: cen_pi = 3.14159265358979323846_dp
  integer, parameter, public :: cen_nlayer = 4
  real(dp), parameter, public :: cen_adep(cen_nlayer) = 15.0_dp                   !< layer depth (cm)
  real(dp), parameter, public :: cen_awtl(cen_nlayer) = [0.8_dp, 0.6_dp, 0.4_dp, 0.3_dp] !< transpiration weights (-)
  real(dp), parameter, public :: cen_edepth = 0.2_dp    !< depth (m) of the initial SOM used for OM% (EDEPTH)
  !> mid-month day of year (radiation) and first day of month (day length)
  integer, parameter :: jmid(12) = [16, 46, 75, 106, 136, 167, 197, 228, 259, 289, 320, 350]
  integer, parameter :: jfirst(12) = [1, 32, 61, 92, 122, 153, 183, 214, 245, 275, 306, 337]

  ! indices of the water-budget output vector wb(:)
  integer, parameter, public :: wb_avh2o1 = 1, wb_avh2o3 = 2, wb_rwcf1 = 3, wb_melt = 4, &
       wb_evap = 5, wb_tran = 6, wb_runoff = 7, wb_outflow = 8, wb_amov2 = 9, wb_nwb = 9

contains

  !> Arctangent function b + (c/pi) atan(pi d (x - a)) (Century catanf).
  elemental real(dp) function catanf(x, a, b, c, d)
    real(dp), intent(in) :: x, a, b, c, d
    catanf = b + (c / cen_pi) * atan(cen_pi * d * (x - a))
  end function catanf

  !> Generalised Poisson density (Parton & Innis 1972): 1 at x = a (optimum), 0 for x >= b
  !> (maximum), c and d shape the left and right limbs.
  elemental real(dp) function gpdf(x, a, b, c, d)
    real(dp), intent(in) :: x, a, b, c, d
    real(dp) :: f
    f = (b - x) / (b - a)
    if (f > 0.0_dp) then
      gpdf = exp((c / d) * (1.0_dp - f**d)) * f**c
    else
      gpdf = 0.0_dp
    end if
  end function gpdf

  !> Extraterrestrial short-wave radiation (langley d-1) at mid-month, latitude lat (deg).
  pure real(dp) function shwave(m, lat)
    integer, intent(in) :: m
    real(dp), intent(in) :: lat
    real(dp) :: phi, delta, x, h
    phi = lat * cen_pi / 180.0_dp
    delta = 0.401426_dp * sin(2.0_dp * cen_pi * real(jmid(m) - 77, dp) / 365.0_dp)
    x = -tan(phi) * tan(delta)
    h = atan2(sqrt(max(0.0_dp, 1.0_dp - x * x)), x)
    shwave = max(0.0_dp, 917.0_dp * (h * sin(phi) * sin(delta) + cos(phi) * cos(delta) * sin(h)))
  end function shwave

  !> Day length (h) on the first day of month m (Century form: the declination itself, not
  !> its tangent, in the square root; spec P8).
  pure real(dp) function daylen(m, lat)
    integer, intent(in) :: m
    real(dp), intent(in) :: lat
    real(dp) :: phi, a, u, v
    phi = lat * cen_pi / 180.0_dp
    a = 0.4014_dp * sin(2.0_dp * cen_pi * real(jfirst(m) - 77, dp) / 365.0_dp)
    u = sqrt(max(0.0_dp, 1.0_dp - (tan(phi) * a)**2))
    v = -tan(phi) * tan(a)
    daylen = 24.0_dp * atan2(u, v) / cen_pi
  end function daylen

  !> Century 4.5 PET (cm month-1), Hargreaves form with extraterrestrial radiation (spec 2.1).
  pure real(dp) function pet_hargreaves(tx, tn, sw, fwloss4)
    real(dp), intent(in) :: tx, tn      !< monthly mean daily max / min air temperature (degC)
    real(dp), intent(in) :: sw          !< extraterrestrial radiation (ly d-1)
    real(dp), intent(in) :: fwloss4     !< PET scaling FWLOSS(4) (-)
    real(dp) :: ed
    ed = 0.0023_dp * ((tx + tn) / 2.0_dp + 17.8_dp) * sqrt(max(0.0_dp, tx - tn)) * sw / 54.0_dp
    pet_hargreaves = fwloss4 * max(0.5_dp, 30.0_dp * ed / 10.0_dp)
  end function pet_hargreaves

  !> Century 4.0 PET (cm month-1), Linacre (1977) with site elevation elev (m) (spec 2.2).
  !> thi, tlo: highest and lowest monthly mean temperature of the current year.
  pure real(dp) function pet_linacre(tx, tn, lat, elev, thi, tlo, fwloss4)
    real(dp), intent(in) :: tx, tn, lat, elev, thi, tlo, fwloss4
    real(dp) :: r, t, tm, ra, dtd, e
    ra = abs(thi - max(-10.0_dp, tlo))
    r = tx - max(-10.0_dp, tn)
    t = tn + r / 2.0_dp
    tm = t + 0.006_dp * elev
    dtd = 0.0023_dp * elev + 0.37_dp * t + 0.53_dp * r + 0.35_dp * ra - 10.9_dp
    e = (700.0_dp * tm / (100.0_dp - abs(lat)) + 15.0_dp * dtd) / (80.0_dp - t)
    pet_linacre = fwloss4 * max(0.5_dp, 30.0_dp * e / 10.0_dp)
  end function pet_linacre

  !> Soil-surface max / min temperature (degC) under shading biomass bio (g m-2) (spec 3.2).
  pure subroutine surface_temps(tx, tn, bio, pmxtmp, pmntmp, txs, tns)
    real(dp), intent(in) :: tx, tn, bio, pmxtmp, pmntmp
    real(dp), intent(out) :: txs, tns
    txs = tx + (25.4_dp / (1.0_dp + 18.0_dp * exp(-0.20_dp * tx))) * (exp(pmxtmp * bio) - 0.13_dp)
    tns = tn + pmntmp * bio - 1.78_dp
  end subroutine surface_temps

  !> Day-length weighted soil surface temperature (Century 4.5 stemp, spec 3.2).
  pure real(dp) function stemp_daylength(txs, tns, dl)
    real(dp), intent(in) :: txs, tns, dl   !< surface max, min (degC), day length (h)
    real(dp) :: w
    if (dl < 12.0_dp) then
      w = ((12.0_dp - dl) * 3.0_dp + 12.0_dp) / 24.0_dp
    else
      w = ((12.0_dp - dl) * 1.2_dp + 12.0_dp) / 24.0_dp
    end if
    w = min(0.95_dp, max(0.05_dp, w))
    stemp_daylength = (1.0_dp - w) * txs + w * tns
  end function stemp_daylength

  !> Volumetric field capacity and wilting point of the water layers (spec 4.2).
  !> swflag 1/2: Gupta & Larson (1979) at -0.33/-0.10 bar; 3/4: Rawls et al. (1982).
  !> OM% of layer 1 from the soil SOM carbon somsc (g C m-2) over EDEPTH, x0.85 per layer.
  pure subroutine soil_water_props(swflag, sand, clay, bulkd, somsc, thfc, thwp)
    integer, intent(in) :: swflag
    real(dp), intent(in) :: sand, clay, bulkd, somsc
    real(dp), intent(out) :: thfc(cen_nlayer), thwp(cen_nlayer)
    real(dp) :: silt, om
    integer :: j
    silt = 1.0_dp - sand - clay
    om = somsc * 1.724_dp / (10000.0_dp * bulkd * cen_edepth)
    do j = 1, cen_nlayer
      select case (swflag)
      case (2)
        thfc(j) = 0.5018_dp * sand + 0.8548_dp * silt + 0.8833_dp * clay + 0.004966_dp * om - 0.2423_dp * bulkd
        thwp(j) = -0.0059_dp * sand + 0.1142_dp * silt + 0.5766_dp * clay + 0.002228_dp * om + 0.02671_dp * bulkd
      case (3)
        thfc(j) = 0.2576_dp - 0.20_dp * sand + 0.36_dp * clay + 0.0299_dp * om
        thwp(j) = 0.0260_dp + 0.50_dp * clay + 0.0158_dp * om
      case (4)
        thfc(j) = 0.4118_dp - 0.30_dp * sand + 0.23_dp * clay + 0.0317_dp * om
        thwp(j) = 0.0260_dp + 0.50_dp * clay + 0.0158_dp * om
      case default
        thfc(j) = 0.3075_dp * sand + 0.5886_dp * silt + 0.8039_dp * clay + 0.002208_dp * om - 0.1434_dp * bulkd
        thwp(j) = -0.0059_dp * sand + 0.1142_dp * silt + 0.5766_dp * clay + 0.002228_dp * om + 0.02671_dp * bulkd
      end select
      om = om * 0.85_dp
    end do
  end subroutine soil_water_props

  !> Production water scalar h2ogef (spec 5.1): a line that is 0 at x0 = PPRPTS(1) +
  !> PPRPTS(2) wc and 1 at x = PPRPTS(3), clipped to [0.01, 1].
  pure real(dp) function h2ogef_of(x, pprpts1, pprpts2, pprpts3, wc)
    real(dp), intent(in) :: x, pprpts1, pprpts2, pprpts3, wc
    h2ogef_of = 1.0_dp + (x - pprpts3) / (pprpts3 - pprpts1 - pprpts2 * wc)
    h2ogef_of = min(1.0_dp, max(0.01_dp, h2ogef_of))
  end function h2ogef_of

  !> Obstruction of production by standing dead and surface litter (spec 5.3, BIOFLG = 1).
  pure real(dp) function biof_of(aglivc, stdedc, strucc1, pmxbio, biok5)
    real(dp), intent(in) :: aglivc, stdedc, strucc1, pmxbio, biok5
    real(dp) :: b, bioprd, r
    b = min(pmxbio, max(0.01_dp, stdedc + 0.1_dp * strucc1))
    bioprd = 1.0_dp - b / (biok5 + b)
    r = aglivc / b
    if (r <= 1.0_dp) then
      biof_of = bioprd + 0.75_dp * (1.0_dp - bioprd) * r
    else if (r <= 2.0_dp) then
      biof_of = bioprd + 0.75_dp * (1.0_dp - bioprd) + 0.25_dp * (1.0_dp - bioprd) * (r - 1.0_dp)
    else
      biof_of = 1.0_dp
    end if
  end function biof_of

  !> Root fraction of production, Great-Plains equation (FRTCINDX = 0, spec 6.1);
  !> grwprc = growing-season precipitation (cm). A non-positive shoot term (very dry
  !> years, spec P10) gives the cap 0.99.
  pure real(dp) function frac_root_gp(agppa, agppb, bgppa, bgppb, grwprc)
    real(dp), intent(in) :: agppa, agppb, bgppa, bgppb, grwprc
    real(dp) :: den, rtsh
    den = agppa + agppb * grwprc
    if (den <= 0.0_dp) then
      frac_root_gp = 0.99_dp
    else
      rtsh = max(0.0_dp, (bgppa + bgppb * grwprc) / den)
      frac_root_gp = min(0.99_dp, rtsh / (1.0_dp + rtsh))
    end if
  end function frac_root_gp

  !> Structural/metabolic split of a residue flux with C/N ratio cn and lignin fraction
  !> lig (spec 9.4, no direct N absorption): metabolic fraction fm and the lignin fraction
  !> lstr of its structural part.
  pure subroutine partition_residue(lig, cn, spl1, spl2, fm, lstr)
    real(dp), intent(in) :: lig, cn, spl1, spl2
    real(dp), intent(out) :: fm, lstr
    real(dp) :: frn
    frn = 1.0_dp / (2.5_dp * cn)
    fm = spl1 - spl2 * lig / frn
    if (lig > 1.0_dp - fm) fm = 1.0_dp - lig
    fm = min(1.0_dp, max(0.20_dp, fm))
    if (fm < 1.0_dp) then
      lstr = min(1.0_dp, lig / (1.0_dp - fm))
    else
      lstr = 0.0_dp
    end if
  end subroutine partition_residue

  !> Plant lignin fraction from annual precipitation pann (cm), clipped to [0.02, 0.5] (spec 9.5).
  elemental real(dp) function plant_lignin(a, b, pann)
    real(dp), intent(in) :: a, b, pann
    plant_lignin = min(0.5_dp, max(0.02_dp, a + b * pann))
  end function plant_lignin

  !> Decomposition water scalar, IDEF = 2 (ratio of water to PET) (spec W11).
  elemental real(dp) function wfunc_ratio(rprpet)
    real(dp), intent(in) :: rprpet
    if (rprpet > 9.0_dp) then
      wfunc_ratio = 1.0_dp
    else
      wfunc_ratio = min(1.0_dp, 1.0_dp / (1.0_dp + 30.0_dp * exp(-8.5_dp * rprpet)))
    end if
  end function wfunc_ratio

  !> Decomposition temperature scalar max(0.01, A(t)/A(30)), A = catanf(.; TEFF) (spec 1.6).
  elemental real(dp) function tcalc(t, teff1, teff2, teff3, teff4)
    real(dp), intent(in) :: t, teff1, teff2, teff3, teff4
    tcalc = max(0.01_dp, catanf(t, teff1, teff2, teff3, teff4) / catanf(30.0_dp, teff1, teff2, teff3, teff4))
  end function tcalc

  !> Anaerobic factor anerb (spec 1.6 / W11); drain = 1 gives 1.
  elemental real(dp) function anerob_factor(rprpet, pet, drain, aneref1, aneref2, aneref3)
    real(dp), intent(in) :: rprpet, pet, drain, aneref1, aneref2, aneref3
    real(dp) :: x
    anerob_factor = 1.0_dp
    if (rprpet > aneref1) then
      x = (rprpet - aneref1) * pet * (1.0_dp - drain)
      if (x > 0.0_dp) then
        anerob_factor = max(aneref3, 1.0_dp + (1.0_dp - aneref3) / (aneref1 - aneref2) * x / pet)
      end if
    end if
  end function anerob_factor

  !> Monthly water budget with snow (spec 4.3, W1-W10) with the documented fixes:
  !> water draining from a snow pack reaches the soil (P7b), only the top nlaypg = 4 layers
  !> exist and transpire. Updates snow, snlq, asmos(1..nlayer+1) (cm) in place.
  !> Inputs: prec (cm), pet (cm), tave (degC), sw (ly d-1), aliv/adead/alit cover (g m-2).
  pure subroutine water_budget(prec, pet, tave, sw, aliv, adead, alit, thfc, thwp, &
       fwloss1, fwloss2, tmelt1, tmelt2, fracro, precro, stormf, basef, snow, snlq, asmos, wb)
    real(dp), intent(in) :: prec, pet, tave, sw, aliv, adead, alit
    real(dp), intent(in) :: thfc(cen_nlayer), thwp(cen_nlayer)
    real(dp), intent(in) :: fwloss1, fwloss2, tmelt1, tmelt2, fracro, precro, stormf, basef
    real(dp), intent(inout) :: snow, snlq, asmos(cen_nlayer + 1)
    real(dp), intent(out) :: wb(wb_nwb)
    real(dp) :: w, petrem, e, s, tot_pack, m, q, meltout, runoff, sh, lt, fint, fbs, evl, add, &
         trap, pttr, pevp, t0, tran, ex, storm, base, a(cen_nlayer), wt(cen_nlayer), tot, tot2, &
         tj, avh1, avh3, rwcf1, g, ev, amov2
    integer :: j
    w = prec
    petrem = pet
    e = 0.0_dp
    meltout = 0.0_dp
    ! W1 snow
    if (tave <= 0.0_dp) then
      snow = snow + w
      w = 0.0_dp
    end if
    if (snow > 0.0_dp) then
      snlq = snlq + w
      w = 0.0_dp
      tot_pack = snow + snlq
      s = min(0.87_dp * petrem, tot_pack)
      if (tot_pack > 0.0_dp) then
        snow = snow - s * snow / tot_pack
        snlq = snlq - s * snlq / tot_pack
      end if
      snow = max(0.0_dp, snow); snlq = max(0.0_dp, snlq)
      e = e + s
      petrem = max(0.0_dp, petrem - s / 0.87_dp)
      if (snow > 0.0_dp .and. tave >= tmelt1) then
        m = min(snow, max(0.0_dp, tmelt2 * (tave - tmelt1) * sw))
        snow = snow - m
        snlq = snlq + m
        meltout = m
        if (snlq > 0.5_dp * snow) then
          q = snlq - 0.5_dp * snow
          snlq = snlq - q
          w = w + q
          meltout = w
        end if
      end if
      if (snow <= 0.0_dp) then   ! pack gone: its liquid leaves with it
        w = w + snlq
        snlq = 0.0_dp
        snow = 0.0_dp
      end if
    end if
    ! W2 runoff (4.5)
    runoff = max(0.0_dp, fracro * (w - precro))
    w = w - runoff
    ! W3 interception and bare-soil fraction
    if (snow <= 0.0_dp) then
      sh = min(800.0_dp, aliv + adead)
      lt = min(400.0_dp, alit)
      fint = (0.0003_dp * lt + 0.0006_dp * sh) * fwloss1
      fbs = 0.5_dp * exp(-0.002_dp * lt - 0.004_dp * sh) * fwloss2
      evl = min((fbs + fint) * w, 0.4_dp * petrem)
      e = e + evl
      add = w - evl
      trap = petrem - evl
    else
      fbs = 0.0_dp
      evl = 0.0_dp
      add = w           ! P7b fix: drained melt water enters the soil
      trap = 0.01_dp
    end if
    ! W4 potential transpiration
    if (tave < 2.0_dp) then
      pttr = 0.0_dp
    else
      pttr = petrem * 0.65_dp * (1.0_dp - exp(-0.020_dp * aliv))
    end if
    trap = min(trap, pttr)
    if (trap <= 0.0_dp) trap = 0.01_dp
    ! W5 potential soil evaporation
    pevp = max(0.0_dp, petrem - trap - evl)
    ! W6 transpiration of incoming water first
    t0 = max(0.0_dp, min(trap - 0.01_dp, add))
    tran = t0
    trap = trap - t0
    add = add - t0
    ! W7 infiltration cascade
    amov2 = 0.0_dp
    do j = 1, cen_nlayer
      asmos(j) = asmos(j) + add
      ex = max(0.0_dp, asmos(j) - cen_adep(j) * thfc(j))
      asmos(j) = asmos(j) - ex
      add = ex
      if (j == 2) amov2 = ex
    end do
    storm = stormf * add
    asmos(cen_nlayer + 1) = asmos(cen_nlayer + 1) + add - storm
    base = basef * asmos(cen_nlayer + 1)
    asmos(cen_nlayer + 1) = asmos(cen_nlayer + 1) - base
    ! W8 transpiration from the soil
    do j = 1, cen_nlayer
      a(j) = max(0.0_dp, asmos(j) - thwp(j) * cen_adep(j))
      wt(j) = cen_awtl(j) * a(j)
    end do
    tot = sum(a)
    tot2 = sum(wt)
    trap = min(trap, tot)
    avh1 = 0.0_dp
    avh3 = 0.0_dp
    do j = 1, cen_nlayer
      tj = 0.0_dp
      if (tot2 > 0.0_dp) tj = min(trap * wt(j) / tot2, a(j))
      asmos(j) = asmos(j) - tj
      tran = tran + tj
      avh1 = avh1 + a(j) - tj
      if (j <= 2) avh3 = avh3 + a(j) - tj
    end do
    rwcf1 = (asmos(1) / cen_adep(1) - thwp(1)) / (thfc(1) - thwp(1))
    ! W9 bare-soil evaporation from layer 1
    g = max(0.01_dp, (rwcf1 - 0.25_dp) / 0.75_dp)
    ev = min(g * pevp * fbs * 0.10_dp, max(0.0_dp, asmos(1) - thwp(1) * cen_adep(1)))
    asmos(1) = asmos(1) - ev
    e = e + ev
    avh1 = max(0.0_dp, avh1 - ev)
    avh3 = max(0.0_dp, avh3 - ev)
    rwcf1 = (asmos(1) / cen_adep(1) - thwp(1)) / (thfc(1) - thwp(1))
    wb(wb_avh2o1) = avh1
    wb(wb_avh2o3) = avh3
    wb(wb_rwcf1) = rwcf1
    wb(wb_melt) = meltout
    wb(wb_evap) = e
    wb(wb_tran) = tran
    wb(wb_runoff) = runoff
    wb(wb_outflow) = storm + base + runoff
    wb(wb_amov2) = amov2
  end subroutine water_budget

end module soc_century_production
