** ./case.img
** SU+J Recovering ./case.img

USE JOURNAL? no

** Skipping journal, falling through to full fsck

** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
3 files, 1041 used, 2806 free (14 frags, 349 blocks, 0.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****
Exit status is 0
